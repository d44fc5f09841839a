/** The shared test vectors (firmware-bridge/test-vectors/*.json), typed for the TypeScript tests. */
import { readFileSync } from 'node:fs';
import type { Frame, FrameError, HostMessage } from '../src/frame.js';

const DIR = new URL('../test-vectors/', import.meta.url);
const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, DIR), 'utf8')) as T;

export const crcVectors = load<{ vectors: ({ ascii: string; crc: string } | { hex: string; crc: string })[] }>('crc16.json').vectors;
export const cobsVectors = load<{ vectors: { name: string; raw: string; encoded: string }[] }>('cobs.json').vectors;
export const frameVectors = load<{ frames: { name: string; frame: Frame; body: string; wire: string }[] }>('frames.json').frames;
export const invalidVectors = load<{ frames: { name: string; wire: string; error: FrameError }[] }>('invalid.json').frames;
export const streamVectors = load<{ streams: { name: string; chunks: string[]; results: string[]; stats: { frames: number; errors: number; garbageBytes: number } }[] }>('streams.json').streams;
export const nodeRules = load<{
  node: { id: number; relays: number; maxOnS: number };
  steps: {
    name: string;
    at: number;
    frame?: Frame<HostMessage>;
    expect: { outcome?: 'executed' | 'repeat' | 'stale' | 'none'; reply?: null | { type: string; ackSeq?: number; status?: string; relays?: number }; relays: number };
  }[];
}>('node-rules.json');
