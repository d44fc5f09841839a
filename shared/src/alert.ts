/**
 * An active alert as the cloud API and the edge's local API serve it (docs/web-api.md), and as
 * the web app reads it: one definition for all three.
 */

export const ALERT_KINDS = ['tank-low', 'soil-dry', 'sensor-offline', 'edge-offline', 'no-flow', 'command-failed'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface Alert {
  /** Stable while the condition lasts: `{kind}:{source}` (`command-failed:{command id}`). */
  id: string;
  kind: AlertKind;
  severity: 'warning' | 'alarm';
  /** The sensor, zone or edge it is about. */
  source: string;
  /** One sentence in English; the web app words it from kind and data in the site's language. */
  message: string;
  /** When the condition began (epoch ms). */
  since: number;
  /** The numbers behind it; `field` when it concerns one field, `by` for a command's issuer. */
  data: Record<string, unknown>;
}
