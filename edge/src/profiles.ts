import { registerPointSchema, type RegisterPoint, type RegisterPointInput } from '@smart-village/shared';

/**
 * Register maps of the cheap RS-485 sensors villages buy. A site config names a profile and
 * sets the slave id; any field of any point can be overridden per device. Most of these probes
 * leave the factory at slave 1, 4800 or 9600 baud, 8N1: set `baud` on the bus to match.
 *
 * Sources are the vendors' Modbus manuals named on each profile. Clones of the same probe are
 * sold under many names with the same map; when in doubt, `village-edge read` shows each value
 * with its raw registers so a technician can check it against the label.
 */
export interface DeviceProfile {
  id: string;
  name: string;
  /** Where the register map comes from. */
  source: string;
  /** Factory line settings, for the technician. */
  factory: { baud: number; parity: 'none' | 'even' | 'odd'; slave: number };
  points: RegisterPoint[];
}

type PointInput = RegisterPointInput;
const pts = (list: PointInput[]): RegisterPoint[] => list.map((p) => registerPointSchema.parse(p));

export const PROFILES: readonly DeviceProfile[] = [
  {
    // Soil moisture / temperature / conductivity probe, the "3-in-1" stainless-pin probe.
    // Renke RS-ECTH-N01-TR manual §"Communication protocol": FC03, 0x0000 moisture 0.1 %,
    // 0x0001 temperature 0.1 °C (two's complement below zero), 0x0002 conductivity 1 µS/cm.
    id: 'soil-th-ec-rs485',
    name: 'Soil moisture + temperature + EC probe (Renke RS-ECTH-N01-TR and clones)',
    source: 'Renke RS-ECTH-N01-TR user manual, Modbus register table (holding 0x0000-0x0002)',
    factory: { baud: 4800, parity: 'none', slave: 1 },
    points: pts([
      { name: 'moisture', table: 'holding', address: 0x0000, type: 'uint16', scale: 0.1, quantity: 'soil-moisture' },
      { name: 'temperature', table: 'holding', address: 0x0001, type: 'int16', scale: 0.1, quantity: 'soil-temperature' },
      { name: 'ec', table: 'holding', address: 0x0002, type: 'uint16', quantity: 'soil-ec' },
    ]),
  },
  {
    // The "7-in-1" soil NPK probe: the 3-in-1 map continued with pH (0.1) and N, P, K (mg/kg).
    // ComWinTop CWT-SOIL-THCPH-NPK manual: holding 0x0000-0x0006.
    id: 'soil-npk-7in1-rs485',
    name: 'Soil 7-in-1: moisture, temperature, EC, pH, N, P, K (ComWinTop CWT-Soil-THCPH-NPK and clones)',
    source: 'ComWinTop CWT-Soil-THCPH-NPK-S manual, register list (holding 0x0000-0x0006)',
    factory: { baud: 4800, parity: 'none', slave: 1 },
    points: pts([
      { name: 'moisture', table: 'holding', address: 0x0000, type: 'uint16', scale: 0.1, quantity: 'soil-moisture' },
      { name: 'temperature', table: 'holding', address: 0x0001, type: 'int16', scale: 0.1, quantity: 'soil-temperature' },
      { name: 'ec', table: 'holding', address: 0x0002, type: 'uint16', quantity: 'soil-ec' },
      { name: 'ph', table: 'holding', address: 0x0003, type: 'uint16', scale: 0.1, quantity: 'soil-ph' },
      { name: 'nitrogen', table: 'holding', address: 0x0004, type: 'uint16', quantity: 'soil-nitrogen' },
      { name: 'phosphorus', table: 'holding', address: 0x0005, type: 'uint16', quantity: 'soil-phosphorus' },
      { name: 'potassium', table: 'holding', address: 0x0006, type: 'uint16', quantity: 'soil-potassium' },
    ]),
  },
  {
    // JXCT JXBS-3001 soil sensors: a sparse map. pH at 0x0006 (0.01), moisture 0x0012 (0.1 %),
    // temperature 0x0013 (0.1 °C), EC 0x0015 (µS/cm), N/P/K 0x001E-0x0020 (mg/kg).
    // With the default coalescing gap the 0x0012-0x0015 and 0x001E-0x0020 runs are one read each.
    id: 'soil-jxbs-3001-rs485',
    name: 'Soil multi-parameter probe (JXCT JXBS-3001-TR / -NPK)',
    source: 'JXCT JXBS-3001 series Modbus-RTU communication manual, register address table',
    factory: { baud: 9600, parity: 'none', slave: 1 },
    points: pts([
      { name: 'ph', table: 'holding', address: 0x0006, type: 'uint16', scale: 0.01, quantity: 'soil-ph' },
      { name: 'moisture', table: 'holding', address: 0x0012, type: 'uint16', scale: 0.1, quantity: 'soil-moisture' },
      { name: 'temperature', table: 'holding', address: 0x0013, type: 'int16', scale: 0.1, quantity: 'soil-temperature' },
      { name: 'ec', table: 'holding', address: 0x0015, type: 'uint16', quantity: 'soil-ec' },
      { name: 'nitrogen', table: 'holding', address: 0x001e, type: 'uint16', quantity: 'soil-nitrogen' },
      { name: 'phosphorus', table: 'holding', address: 0x001f, type: 'uint16', quantity: 'soil-phosphorus' },
      { name: 'potassium', table: 'holding', address: 0x0020, type: 'uint16', quantity: 'soil-potassium' },
    ]),
  },
  {
    // Ultrasonic distance sensor looking down into a tank (DYP-A02YYMW-V2.0 / A01 RS-485 output):
    // holding 0x0100 processed distance in mm, 0x0102 temperature 0.1 °C. The tank level is the
    // mounting height minus the distance: level_cm = mount_cm - 0.1 * distance_mm, i.e.
    // scale -0.1 and offset = mounting height in cm. Set `overrides: { level: { offset: <cm> } }`.
    id: 'level-ultrasonic-dyp-a02',
    name: 'Ultrasonic tank level (DYP-A02YYMW / A01 RS-485)',
    source: 'DYP-A02YY series datasheet, RS485 output Modbus register table (0x0100, 0x0102)',
    factory: { baud: 9600, parity: 'none', slave: 1 },
    points: pts([
      { name: 'level', table: 'holding', address: 0x0100, type: 'uint16', scale: -0.1, offset: 200, quantity: 'water-level' },
      { name: 'temperature', table: 'holding', address: 0x0102, type: 'int16', scale: 0.1, quantity: 'air-temperature' },
    ]),
  },
  {
    // Hydrostatic (pressure) level transmitter with RS-485, e.g. the common MPM489W / "QDY30A"
    // class: holding 0x0002 unit code, 0x0003 decimal places, 0x0004 measured value (int16).
    // Shipped here for range 0-5 m set to unit cm with 1 decimal place (0x0003 = 1) -> scale 0.1.
    // If the transmitter reports another decimal setting, override `scale`.
    id: 'level-pressure-rs485',
    name: 'Submersible pressure level transmitter (RS-485, QDY30A / MPM489W class)',
    source: 'Vendor Modbus manual of QDY30A-class transmitters: 0x0003 decimal point, 0x0004 measured value',
    factory: { baud: 9600, parity: 'none', slave: 1 },
    points: pts([{ name: 'level', table: 'holding', address: 0x0004, type: 'int16', scale: 0.1, quantity: 'water-level' }]),
  },
  {
    // Tipping-bucket rain gauge with RS-485 counter (Renke RS-YL-N01-*): holding 0x0000 rain
    // accumulated since power-on or reset, 0.1 mm, in 16 bits (wraps after 6553.5 mm). It is
    // reported as it is, a running total (`rain-total`); rain over a period is the difference
    // of two totals, allowing for a wrap or a gauge reset.
    id: 'rain-gauge-rs485',
    name: 'Tipping-bucket rain gauge, RS-485 (Renke RS-YL-N01 and clones)',
    source: 'Renke rain gauge RS-YL-N01 user manual, register 0x0000 rainfall (0.1 mm)',
    factory: { baud: 4800, parity: 'none', slave: 1 },
    points: pts([{ name: 'rain-total', table: 'holding', address: 0x0000, type: 'uint16', scale: 0.1, quantity: 'rain', max: 6553.5 }]),
  },
  {
    // Cup anemometer, Renke RS-FSJT-N01: holding 0x0000 wind speed 0.1 m/s.
    id: 'wind-speed-rs485',
    name: 'Wind speed (cup anemometer, Renke RS-FSJT-N01 and clones)',
    source: 'Renke RS-FSJT-N01 user manual, register 0x0000 (0.1 m/s)',
    factory: { baud: 4800, parity: 'none', slave: 1 },
    points: pts([{ name: 'speed', table: 'holding', address: 0x0000, type: 'uint16', scale: 0.1, quantity: 'wind-speed' }]),
  },
  {
    // Wind vane, Renke RS-FXJT-N01: 0x0000 direction in 8 sectors (0-7), 0x0001 angle 0-360 °.
    id: 'wind-direction-rs485',
    name: 'Wind direction (vane, Renke RS-FXJT-N01 and clones)',
    source: 'Renke RS-FXJT-N01 user manual, registers 0x0000 (sector 0-7) and 0x0001 (0-360 °)',
    factory: { baud: 4800, parity: 'none', slave: 1 },
    points: pts([{ name: 'direction', table: 'holding', address: 0x0001, type: 'uint16', quantity: 'wind-direction' }]),
  },
  {
    // All-in-one weather station (Renke RS-*-N01 "multi-element louver/ultrasonic" family):
    // holding 500 wind speed 0.1 m/s, 503 wind angle °, 504 RH 0.1 %, 505 temperature 0.1 °C,
    // 509 pressure 0.1 kPa (= 1 hPa), 510-511 illuminance 32-bit lux (high word first),
    // 513 rainfall 0.1 mm, 515 solar radiation W/m². 500-515 is one read of 16 registers.
    id: 'weather-station-rs485',
    name: 'All-in-one weather station (Renke multi-element, registers 500-515)',
    source: 'Renke RS-FSXCS-N01 multi-element weather station manual, register table 500-515',
    factory: { baud: 4800, parity: 'none', slave: 1 },
    points: pts([
      { name: 'wind-speed', table: 'holding', address: 500, type: 'uint16', scale: 0.1, quantity: 'wind-speed' },
      { name: 'wind-direction', table: 'holding', address: 503, type: 'uint16', quantity: 'wind-direction' },
      { name: 'humidity', table: 'holding', address: 504, type: 'uint16', scale: 0.1, quantity: 'relative-humidity' },
      { name: 'temperature', table: 'holding', address: 505, type: 'int16', scale: 0.1, quantity: 'air-temperature' },
      { name: 'pressure', table: 'holding', address: 509, type: 'uint16', scale: 1, quantity: 'air-pressure' },
      { name: 'illuminance', table: 'holding', address: 510, type: 'uint32', order: 'ABCD', quantity: 'illuminance' },
      // Accumulated like the gauge's counter above.
      { name: 'rain-total', table: 'holding', address: 513, type: 'uint16', scale: 0.1, quantity: 'rain', max: 6553.5 },
      { name: 'solar', table: 'holding', address: 515, type: 'uint16', quantity: 'solar-radiation' },
    ]),
  },
];

for (const p of PROFILES) {
  for (const point of p.points) Object.freeze(point);
  Object.freeze(p.points);
  Object.freeze(p);
}

export function findProfile(id: string): DeviceProfile | undefined {
  return PROFILES.find((p) => p.id === id);
}
