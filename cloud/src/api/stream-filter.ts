import { canSeeAlert, canSeeEventSource, canSeeSensor, canSeeZone, type Principal } from '../auth/access.js';
import type { SiteModel } from '../site/model.js';
import type { LiveEvent } from './live.js';

/**
 * What a farmer's stream may carry: readings, events and zones of their own fields, their own
 * commands and the alerts that concern them. Undefined for callers who see the whole site.
 * `model` is read per event (the API refreshes it when an edge's meta or control changes); with
 * no model yet, nothing field-specific passes.
 */
export function streamFilter(p: Principal, model: () => SiteModel | undefined): ((e: LiveEvent) => LiveEvent | undefined) | undefined {
  if (p.fields === null) return undefined;
  return (e) => {
    const m = model();
    switch (e.event) {
      case 'readings': {
        const readings = m ? e.data.readings.filter((r) => canSeeSensor(p, m, r.sensor)) : [];
        return readings.length > 0 ? { event: 'readings', data: { ...e.data, readings } } : undefined;
      }
      case 'events': {
        const events = m ? e.data.events.filter((x) => canSeeEventSource(p, m, x.source)) : [];
        return events.length > 0 ? { event: 'events', data: { ...e.data, events } } : undefined;
      }
      case 'control': {
        const zones = m ? e.data.control.zones.filter((z) => canSeeZone(p, m, z.id)) : [];
        return { event: 'control', data: { ...e.data, control: { ...e.data.control, zones } } };
      }
      case 'command':
        return e.data.command.by === p.name ? e : undefined;
      case 'alert':
        return { event: 'alert', data: { ...e.data, alerts: e.data.alerts.filter((a) => canSeeAlert(p, a.data as { field?: string; by?: string })) } };
      default:
        return e;
    }
  };
}
