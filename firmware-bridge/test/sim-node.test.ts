import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from '../src/frame.js';
import { prng, SimNode } from '../src/sim-node.js';
import { nodeRules } from './vectors.js';

describe('SimNode follows the node rules (test-vectors/node-rules.json)', () => {
  const spec = { id: nodeRules.node.id, relays: nodeRules.node.relays, maxOnS: nodeRules.node.maxOnS, heartbeatS: 5, firmware: 'sim', sensors: [], values: 'walk' as const };
  const node = new SimNode(spec, prng(1), 0);
  for (const step of nodeRules.steps) {
    it(step.name, () => {
      node.expire(step.at);
      if (step.frame) {
        // Through the wire and back, as the node would receive it.
        const decoded = decodeFrame(encodeFrame(step.frame));
        if (!decoded.ok) throw new Error(decoded.detail);
        const { reply, outcome } = node.handle(decoded.frame as typeof step.frame, step.at);
        expect(outcome?.kind ?? 'none').toBe(step.expect.outcome);
        if (step.expect.reply === null) expect(reply).toBeUndefined();
        else if (step.expect.reply?.type === 'hello') expect(reply?.message.type).toBe('hello');
        else expect(reply?.message).toEqual(step.expect.reply);
      }
      expect(node.relays).toBe(step.expect.relays);
    });
  }
});

describe('SimNode', () => {
  it('starts each boot with a hello at seq 0 and a new boot id', () => {
    const node = new SimNode({ id: 4, relays: 1, maxOnS: 10, heartbeatS: 5, firmware: 'sim', sensors: [{ name: 'rain', quantity: 'rain' }], values: 'seq' }, prng(2), 0);
    const first = node.hello();
    expect(first.seq).toBe(0);
    const r = node.readings();
    expect(r.message).toEqual({ type: 'readings', ageDs: 0, readings: [{ sensor: 0, unit: 'mm', mantissa: 10, exp: -1 }] });
    const boot = node.boot;
    node.restart(1000);
    expect(node.boot).not.toBe(boot);
    expect(node.hello().seq).toBe(0);
  });
});
