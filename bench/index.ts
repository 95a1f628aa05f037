/** `npm run bench -- NAME`: runs one bench; its last line is `{"bench", "results", "ratios"}`. */
import { benchBus } from './bus.ts';
import { benchCli } from './cli-start.ts';
import { benchContext } from './context.ts';
import { benchGovernance } from './governance.ts';
import { benchLedger } from './ledger.ts';
import { benchPipeline } from './pipeline.ts';
import { benchRecovery } from './recovery.ts';
import { benchRevocation } from './revocation.ts';
import { benchSandbox } from './sandbox.ts';
import { benchScale } from './scale.ts';

const benches: Record<string, () => Promise<void>> = {
  bus: benchBus,
  cli: benchCli,
  context: benchContext,
  governance: benchGovernance,
  ledger: benchLedger,
  pipeline: benchPipeline,
  recovery: benchRecovery,
  revocation: benchRevocation,
  sandbox: benchSandbox,
  scale: benchScale,
};

const name = process.argv[2];
const run = name ? benches[name] : undefined;
if (!run) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
await run();
process.exit(0);
