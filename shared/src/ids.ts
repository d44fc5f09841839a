import { z } from 'zod';

/** Ids appear in MQTT topics and file names: lowercase letters, digits and dashes. */
export const ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export const idSchema = z
  .string()
  .regex(ID_PATTERN, { message: 'ids are lowercase letters, digits and dashes (e.g. "soil-1"), 1-64 characters' });
