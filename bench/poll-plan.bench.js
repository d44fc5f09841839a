// Requests per poll cycle for 10 slaves of mixed profiles: the coalescing planner vs the naive
// one-request-per-value plan, and the bus time each costs on a 9600-baud RS-485 line.
//
// Frame arithmetic (Modbus over serial line v1.02 §2.5.1):
//   request  FC03/04 = addr 1 + fc 1 + start 2 + quantity 2 + CRC 2            =  8 bytes
//   response FC03/04 = addr 1 + fc 1 + byte count 1 + 2 x registers + CRC 2    =  5 + 2n bytes
//   a character on an 8N1 line = start + 8 data + stop                        = 10 bits
//   frames are separated by t3.5 = 3.5 characters of 11 bits (§2.5.1.1)       =  4.01 ms at 9600
//   one request/response exchange = (8 + 5 + 2n) x 10 / 9600 s + 2 x t3.5
import { resolvePoint, planReads } from '../edge/dist/modbus/registers.js';
import { findProfile } from '../edge/dist/profiles.js';

const BAUD = 9600;
const BITS_PER_CHAR = 10;
const T35_MS = (3.5 * 11 * 1000) / BAUD;

const SLAVES = [
  'soil-th-ec-rs485',
  'soil-th-ec-rs485',
  'soil-th-ec-rs485',
  'soil-npk-7in1-rs485',
  'soil-npk-7in1-rs485',
  'soil-jxbs-3001-rs485',
  'level-ultrasonic-dyp-a02',
  'rain-gauge-rs485',
  'wind-direction-rs485',
  'weather-station-rs485',
];

function exchangeMs(registers) {
  const bytes = 8 + 5 + 2 * registers;
  return (bytes * BITS_PER_CHAR * 1000) / BAUD + 2 * T35_MS;
}

export default async function () {
  let ours = 0;
  let naive = 0;
  let oursMs = 0;
  let naiveMs = 0;
  let contiguousSlaves = 0;
  let oneRequestSlaves = 0;
  for (const id of SLAVES) {
    const profile = findProfile(id);
    if (!profile) throw new Error(`no profile ${id}`);
    const points = profile.points.map(resolvePoint);
    const plan = planReads(points, 4);
    ours += plan.length;
    oursMs += plan.reduce((t, r) => t + exchangeMs(r.length), 0);
    const single = planReads(points, 0);
    naive += points.length;
    naiveMs += points.reduce((t, p) => t + exchangeMs(p.type.endsWith('32') ? 2 : p.type.endsWith('64') ? 4 : 1), 0);
    // A slave's registers are "contiguous" when they form one block with no gap at all.
    if (single.length === 1) contiguousSlaves++;
    if (plan.length === 1) oneRequestSlaves++;
  }
  const values = SLAVES.reduce((n, id) => n + findProfile(id).points.length, 0);
  return [
    { bench: 'poll-plan', metric: 'slaves', value: SLAVES.length, unit: 'slaves' },
    { bench: 'poll-plan', metric: 'values per cycle', value: values, unit: 'values' },
    { bench: 'poll-plan', metric: 'requests per cycle', value: ours, unit: 'requests', peer: naive, ratio: ours / naive },
    { bench: 'poll-plan', metric: 'slaves read in one request', value: oneRequestSlaves, unit: 'slaves', peer: contiguousSlaves },
    { bench: 'poll-plan', metric: 'bus time per cycle at 9600 baud', value: round(oursMs), unit: 'ms', peer: round(naiveMs), ratio: oursMs / naiveMs },
    { bench: 'poll-plan', metric: 'fastest cycle the wire allows', value: round(oursMs / 1000), unit: 's', peer: round(naiveMs / 1000) },
  ];
}

function round(x) {
  return Math.round(x * 10) / 10;
}
