// smart-village reference node: a capacitive soil-moisture probe, the battery voltage and one
// valve relay, speaking protocol v1 (firmware-bridge/PROTOCOL.md) over the USB serial port.
// Fits an Arduino Uno/Nano (ATmega328P, 2 KB RAM: ~150 bytes of buffers) and any ESP32.
//
// Wiring (Uno/Nano):
//   A0  capacitive soil moisture sensor v1.2, AOUT (VCC 5 V, GND)
//   A1  battery + through a 100k/100k divider to GND (reads up to 10 V)
//   D7  relay module IN (most modules switch on a LOW input: RELAY_ACTIVE_LOW)
// Calibrate MOISTURE_DRY (probe in air) and MOISTURE_WET (probe in a glass of water) with
// analogRead before burying it.
//
// The protocol code is in src/ (portable C++, tested on the host against the shared test
// vectors: firmware-bridge/firmware/test). The Arduino IDE compiles src/ with the sketch.
#include <EEPROM.h>

#include "src/sv_node.h"
#include "src/sv_proto.h"

// ---- settings: change these for your node ----------------------------------------------------
#ifndef SV_NODE_ID
#define SV_NODE_ID 7  // unique on the line (all nodes behind one gateway too), 1-254
#endif
#ifndef SV_READ_EVERY_MS
#define SV_READ_EVERY_MS 60000UL
#endif
#ifndef SV_HEARTBEAT_S
#define SV_HEARTBEAT_S 30
#endif
const uint32_t BAUD = 115200;  // 57600 if a 16 MHz board drops bytes; set the same on the edge
const uint8_t MOISTURE_PIN = A0;
const uint8_t BATTERY_PIN = A1;
const uint8_t RELAY_PIN = 7;
const bool RELAY_ACTIVE_LOW = true;
const int MOISTURE_DRY = 520;  // analogRead in air
const int MOISTURE_WET = 260;  // analogRead in water
const uint16_t MAX_ON_S = 3600;  // no ON longer than an hour, whatever the edge asks
const int EEPROM_BOOT = 0;       // EEPROM byte holding the boot counter

const sv::SensorInfo SENSORS[] = {
    {0, sv::Q_SOIL_MOISTURE, sv::UNIT_VWC, "moisture"},
    {1, sv::Q_BATTERY, sv::UNIT_V, "battery"},
};
const sv::ActuatorInfo ACTUATORS[] = {
    {0, sv::KIND_VALVE, MAX_ON_S, "valve"},
};
const uint8_t N_SENSORS = sizeof SENSORS / sizeof SENSORS[0];
const uint8_t N_ACTUATORS = sizeof ACTUATORS / sizeof ACTUATORS[0];

// ---- state -----------------------------------------------------------------------------------
static sv::Node node(SV_NODE_ID, 0, N_ACTUATORS, MAX_ON_S);
static sv::Receiver<24> rx;  // host frames are at most 15 bytes encoded
static uint8_t tx[64];       // our largest frame is the hello: 57 bytes
static uint32_t last_read;
static uint32_t last_heartbeat;
static uint32_t started;
static bool hello_due;
static uint32_t hello_at;

static void put(void*, uint8_t b) { Serial.write(b); }

static void send(size_t n) {
  if (n > 0) sv::send_frame(tx, n, put, 0);
}

static void send_hello() {
  send(sv::build_hello(tx, sizeof tx, SV_NODE_ID, node.boot(), node.next_seq(), SV_HEARTBEAT_S, "sv-node 1.0", SENSORS,
                       N_SENSORS, ACTUATORS, N_ACTUATORS));
}

static void apply_relays() {
  bool on = node.relays() & 1;
  digitalWrite(RELAY_PIN, on != RELAY_ACTIVE_LOW ? HIGH : LOW);
}

static void send_readings() {
  sv::Value v[N_SENSORS];
  int raw = analogRead(MOISTURE_PIN);
  v[0].sensor = 0;
  v[0].unit = sv::UNIT_VWC;
  if (raw < 50 || raw > 1000) {
    // A probe that is unplugged or shorted reads near the rails: say so, do not send 0 %.
    v[0].exp = sv::FAILED_EXP;
    v[0].mantissa = 0;
  } else {
    long clamped = constrain(raw, MOISTURE_WET, MOISTURE_DRY);
    v[0].exp = -1;  // tenths of %VWC
    v[0].mantissa = map(clamped, MOISTURE_DRY, MOISTURE_WET, 0, 1000);
  }
  // 5 V reference, divider by 2: volts = raw * 10 / 1023; sent in hundredths.
  v[1].sensor = 1;
  v[1].unit = sv::UNIT_V;
  v[1].exp = -2;
  v[1].mantissa = (int32_t)((long)analogRead(BATTERY_PIN) * 1000L / 1023L);
  send(sv::build_readings(tx, sizeof tx, SV_NODE_ID, node.boot(), node.next_seq(), 0, v, N_SENSORS));
}

static void send_heartbeat(uint32_t now) {
  sv::Heartbeat hb = {(uint32_t)((now - started) / 1000UL), node.relays(), rx.errors()};
  send(sv::build_heartbeat(tx, sizeof tx, SV_NODE_ID, node.boot(), node.next_seq(), hb));
}

static void on_frame(const uint8_t* body, size_t len, uint32_t now) {
  sv::Header h;
  sv::check_body(body, len, h);  // the receiver checked CRC and version already
  const uint8_t* payload = body + sv::HEADER_BYTES;
  size_t n = len - sv::MIN_BODY;
  if ((h.type & 0x80) == 0) return;  // a node's frame (our own echo on RS-485): not for us
  if (sv::check_payload(h.type, payload, n) != sv::RX_NONE) {
    rx.reject();
    return;
  }
  sv::Ack ack;
  switch (node.handle(h, payload, n, now, ack)) {
    case sv::OUTCOME_DESCRIBE:
      // Answers to a broadcast are spread by id so they do not collide on a shared medium.
      hello_due = true;
      hello_at = now + (h.node == sv::BROADCAST ? (uint32_t)SV_NODE_ID * 10UL : 0);
      break;
    case sv::OUTCOME_EXECUTED:
    case sv::OUTCOME_REPEAT:
      apply_relays();
      send(sv::build_ack(tx, sizeof tx, SV_NODE_ID, node.boot(), node.next_seq(), ack));
      break;
    default:
      break;
  }
}

void setup() {
  // Level before direction: the relay must not click on at power-up.
  digitalWrite(RELAY_PIN, RELAY_ACTIVE_LOW ? HIGH : LOW);
  pinMode(RELAY_PIN, OUTPUT);
  Serial.begin(BAUD);
  // A new boot id every start (PROTOCOL.md §7); update() spares the EEPROM when unchanged.
  uint8_t boot = (uint8_t)(EEPROM.read(EEPROM_BOOT) + 1);
  EEPROM.update(EEPROM_BOOT, boot);
  node.begin(boot);
  started = millis();
  send_hello();  // seq 0: the first frame after power-up
  last_read = started - SV_READ_EVERY_MS;  // first readings right away
  last_heartbeat = started;
}

void loop() {
  uint32_t now = millis();
  while (Serial.available() > 0) {
    int r = rx.push((uint8_t)Serial.read());
    if (r > 0) on_frame(rx.body(), (size_t)r, now);
  }
  if (node.expire(now)) apply_relays();  // the node's own timer: off when the ON's time is up
  if (hello_due && (int32_t)(now - hello_at) >= 0) {
    hello_due = false;
    send_hello();
  }
  if (now - last_read >= SV_READ_EVERY_MS) {
    last_read += SV_READ_EVERY_MS;
    send_readings();
  }
  if (now - last_heartbeat >= SV_HEARTBEAT_S * 1000UL) {
    last_heartbeat += SV_HEARTBEAT_S * 1000UL;
    send_heartbeat(now);
  }
}
