import { Writable } from 'node:stream';
import { actuatorSchema, type ActuatorConfig } from '@smart-village/shared';
import { createLogger, type Logger } from '../../src/log.js';

/** An actuator as the site config yields it (defaults filled). */
export function actuator(input: Record<string, unknown>): ActuatorConfig {
  return actuatorSchema.parse({ kind: 'valve', ...input });
}

/** A logger whose JSON lines the test can read. */
export function capturingLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ destination, level: 'debug', pretty: false }), lines };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `done` until it holds; throws (with `what`) after `withinMs`. */
export async function until(what: string, done: () => boolean, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await sleep(10);
  }
}

/** The four ways a relay can be wired and rest: activeLow × safe state, with the level safe means. */
export const WIRINGS = [
  { activeLow: false, safeState: 'off', safeLevel: 0, onLevel: 1 },
  { activeLow: false, safeState: 'on', safeLevel: 1, onLevel: 1 },
  { activeLow: true, safeState: 'off', safeLevel: 1, onLevel: 0 },
  { activeLow: true, safeState: 'on', safeLevel: 0, onLevel: 0 },
] as const;
