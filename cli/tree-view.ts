import type { SupervisorTree } from '../protocols/index.ts';

/** Renders a supervision tree, one line per child: id, kind, status, agent state/tier, restarts, pid. */
export function renderTree(tree: SupervisorTree, nowMs = Date.now()): string {
  const lines = [
    `${tree.supervisorId} (${tree.strategy}, intensity ${tree.intensity}/${tree.periodMs} ms, ${tree.phase})`,
  ];
  const walk = (t: SupervisorTree, prefix: string) => {
    t.children.forEach((c, i) => {
      const last = i === t.children.length - 1;
      const hb = c.heartbeatStatus ?? {};
      const facts = [
        c.type === 'supervisor' ? 'supervisor' : `${c.actorKind}${c.type === 'process' ? ' (process)' : ''}`,
        c.status,
        typeof hb.state === 'string' ? `state=${hb.state}` : '',
        typeof hb.tier === 'string' ? `tier=${hb.tier}` : '',
        `restarts=${c.restartCount}`,
        c.pid ? `pid=${c.pid}` : '',
        c.lastHeartbeatMs ? `hb ${Math.max(0, nowMs - c.lastHeartbeatMs)} ms ago` : '',
      ].filter(Boolean);
      lines.push(`${prefix}${last ? '└── ' : '├── '}${c.id}  ${facts.join('  ')}`);
      if (c.tree) walk(c.tree, `${prefix}${last ? '    ' : '│   '}`);
    });
  };
  walk(tree, '');
  return lines.join('\n');
}
