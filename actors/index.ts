export { counterKind } from './counter.ts';
export { echoKind } from './echo.ts';
export { defaultRegistry } from './kinds.ts';
export * from './runtime/index.ts';
