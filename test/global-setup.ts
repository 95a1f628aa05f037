import { buildCliBundle } from '../cli/build-bundle.ts';

/** Builds the CLI bundle once per test run: supervisors start process children from it. */
export default function setup(): void {
  buildCliBundle();
}
