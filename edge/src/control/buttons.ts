import { randomUUID } from 'node:crypto';
import type { ButtonConfig, Command } from '@smart-village/shared';
import type { Clock, TimerHandle } from '../clock.js';
import type { Pin, PinBackend } from '../gpio/backend.js';
import { sysfsPinOf } from '../gpio/chip.js';
import { Debouncer, type Level } from '../gpio/inputs.js';
import type { Logger } from '../log.js';

/** Push buttons bounce for a few ms; 50 ms also ignores a brush against the wire. */
const BUTTON_DEBOUNCE_MS = 50;

export interface ButtonDeps {
  pins: PinBackend;
  chipBase: number;
  clock: Clock;
  log: Logger;
  /** Whether the zone is watering now (a press then stops it). */
  running: (zone: string) => boolean;
  command: (cmd: Command) => Promise<unknown>;
}

/**
 * Push buttons at the field or in the pump house: a press waters the button's zone for its
 * duration, a press while it waters stops it. They go through the same command path (and the
 * same interlocks and leases) as the CLI and the cloud.
 */
export class Buttons {
  private readonly open: { pin: Pin; timer?: TimerHandle }[] = [];

  constructor(
    private readonly buttons: readonly ButtonConfig[],
    private readonly deps: ButtonDeps,
  ) {}

  start(): void {
    for (const b of this.buttons) {
      const { pins, chipBase, clock, log } = this.deps;
      let pin: Pin;
      try {
        pin = pins.open(sysfsPinOf(chipBase, b.pin), { edge: 'both' });
      } catch (err) {
        log.error({ button: b.id, pin: b.pin, err: (err as Error).message }, `button ${b.id}: cannot open GPIO${b.pin}`);
        continue;
      }
      const pressedLevel: Level = b.activeLow ? 0 : 1;
      const debouncer = new Debouncer(BUTTON_DEBOUNCE_MS, pin.read());
      const slot: { pin: Pin; timer?: TimerHandle } = { pin };
      const confirm = (): void => {
        for (const edge of debouncer.flush(clock.now())) if (edge.level === pressedLevel) this.pressed(b);
        // A timer may fire a millisecond early by the wall clock: look again until it settles.
        if (debouncer.pending) slot.timer = clock.setTimeout(confirm, 5);
      };
      pin.watch(
        (level) => {
          for (const edge of debouncer.feed(clock.now(), level)) if (edge.level === pressedLevel) this.pressed(b);
          clock.clearTimeout(slot.timer);
          if (debouncer.pending) slot.timer = clock.setTimeout(confirm, BUTTON_DEBOUNCE_MS);
        },
        (err) => log.warn({ button: b.id, err: err.message }, `button ${b.id}: GPIO watch failed`),
      );
      this.open.push(slot);
    }
  }

  private pressed(b: ButtonConfig): void {
    const { clock, log } = this.deps;
    const action = this.deps.running(b.zone) ? ({ type: 'stop', zone: b.zone } as const) : ({ type: 'water', zone: b.zone, duration: b.duration } as const);
    log.info({ button: b.id, zone: b.zone, action: action.type }, `button ${b.id} pressed`);
    void this.deps.command({ id: randomUUID(), ts: clock.now(), ttl: 60_000, by: `button:${b.id}`, action });
  }

  stop(): void {
    for (const s of this.open.splice(0)) {
      this.deps.clock.clearTimeout(s.timer);
      s.pin.close();
    }
  }
}
