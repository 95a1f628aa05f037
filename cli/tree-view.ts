import type { SupervisorSummary, SupervisorTree } from '../protocols/index.ts';

/** "[100 children: 98 running, 2 starting; 3 restarts]" — the counts that are not zero. */
function summaryText(s: SupervisorSummary): string {
  const states = (['running', 'starting', 'pending', 'stopped', 'unreachable'] as const)
    .filter((k) => s[k] > 0)
    .map((k) => `${s[k]} ${k}`);
  return `[${s.children} children: ${states.join(', ') || 'none'}; ${s.restarts} restarts]`;
}

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
      if (c.summary && !c.tree) facts.push(summaryText(c.summary));
      lines.push(`${prefix}${last ? '└── ' : '├── '}${c.id}  ${facts.join('  ')}`);
      if (c.tree) walk(c.tree, `${prefix}${last ? '    ' : '│   '}`);
    });
  };
  walk(tree, '');
  return lines.join('\n');
}
