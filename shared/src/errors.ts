/** The closed set of error codes; anything else is normalised to INTERNAL at a boundary. */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'CONFIG_UNREADABLE',
  'MODBUS_TIMEOUT',
  'MODBUS_EXCEPTION',
  'MODBUS_CRC',
  'MODBUS_FRAME',
  'PORT_UNAVAILABLE',
  'GPIO_UNAVAILABLE',
  'QUEUE_FULL',
  'STORE_FAILED',
  'PAYLOAD_INVALID',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class VillageError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VillageError';
    this.code = code;
    this.details = details;
  }
}

export function toVillageError(err: unknown): VillageError {
  if (err instanceof VillageError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new VillageError('INTERNAL', message, {}, { cause: err });
}
