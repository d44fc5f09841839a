import { createRequire } from 'node:module';
import type * as Mqtt from '../../../../edge/node_modules/mqtt/build/index.js';

// MQTT.js is a dependency of edge, not of cloud: load it through edge's package.json.
const requireFromEdge = createRequire(new URL('../../../../edge/package.json', import.meta.url));
export const mqtt = requireFromEdge('mqtt') as typeof Mqtt;
export type MqttClient = Mqtt.MqttClient;
