import type { BridgeLogger } from '../../src/clock.js';

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A logger that keeps its lines, so tests can read what an operator would see. */
export function memoryLog(): { log: BridgeLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ ...obj, level, msg });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}
