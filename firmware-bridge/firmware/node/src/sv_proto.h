// smart-village firmware protocol v1 (firmware-bridge/PROTOCOL.md): CRC, COBS, frame writer
// and reader, a byte-at-a-time receiver. Portable C++11: no Arduino headers, no heap, no
// exceptions, fixed buffers owned by the caller. Compiles for AVR, ESP32 and the host (tests).
#ifndef SV_PROTO_H
#define SV_PROTO_H

#include <stddef.h>
#include <stdint.h>

namespace sv {

const uint8_t VERSION = 1;
const uint8_t HEADER_BYTES = 6;
const uint8_t CRC_BYTES = 2;
const uint8_t MIN_BODY = 8;
const uint8_t MAX_BODY = 250;
const uint8_t MAX_ENCODED = 251;  // one COBS code byte for a body below 254 bytes
const uint8_t HOST = 0;
const uint8_t BROADCAST = 255;
const int8_t FAILED_EXP = -128;  // a reading whose sensor could not be read
const uint8_t MAX_SENSORS = 16;
const uint8_t MAX_ACTUATORS = 8;
const uint8_t MAX_READINGS = 34;
const uint8_t MAX_NAME = 16;
const uint8_t MAX_FIRMWARE = 24;
const uint8_t MAX_TEXT = 48;

enum Type {
  HELLO = 0x01,
  READINGS = 0x02,
  HEARTBEAT = 0x03,
  ACK = 0x04,
  ERROR = 0x05,
  DESCRIBE = 0x81,
  COMMAND = 0x82
};

enum AckStatus { ACK_DONE = 0, ACK_UNKNOWN_CHANNEL = 1, ACK_BAD_DURATION = 2, ACK_UNSUPPORTED = 3, ACK_FAULT = 4 };

enum ErrorCode { ERR_BAD_FRAME = 1, ERR_VERSION = 2, ERR_SENSOR = 3, ERR_ACTUATOR = 4, ERR_WATCHDOG = 5, ERR_OVERFLOW = 6, ERR_OTHER = 255 };

// PROTOCOL.md §11. Codes never change meaning.
enum Unit {
  UNIT_VWC = 1, UNIT_CELSIUS = 2, UNIT_US_PER_CM = 3, UNIT_PH = 4, UNIT_CM = 5, UNIT_PERCENT = 6,
  UNIT_RH = 7, UNIT_MM = 8, UNIT_M_PER_S = 9, UNIT_DEGREE = 10, UNIT_W_PER_M2 = 11, UNIT_LX = 12,
  UNIT_L_PER_MIN = 13, UNIT_L = 14, UNIT_V = 15, UNIT_HPA = 16, UNIT_MG_PER_KG = 17, UNIT_STATE = 18,
  UNIT_COUNT = 19
};

enum Quantity {
  Q_SOIL_MOISTURE = 1, Q_SOIL_TEMPERATURE = 2, Q_SOIL_EC = 3, Q_SOIL_PH = 4, Q_SOIL_NITROGEN = 5,
  Q_SOIL_PHOSPHORUS = 6, Q_SOIL_POTASSIUM = 7, Q_WATER_LEVEL = 8, Q_WATER_FILL = 9,
  Q_AIR_TEMPERATURE = 10, Q_RELATIVE_HUMIDITY = 11, Q_AIR_PRESSURE = 12, Q_RAIN = 13,
  Q_WIND_SPEED = 14, Q_WIND_DIRECTION = 15, Q_SOLAR_RADIATION = 16, Q_ILLUMINANCE = 17, Q_FLOW = 18,
  Q_VOLUME = 19, Q_BATTERY = 20, Q_SWITCH = 21, Q_PULSES = 22
};

enum Kind { KIND_RELAY = 0, KIND_VALVE = 1, KIND_PUMP = 2, KIND_MASTER_VALVE = 3, KIND_LIGHT = 4 };

// Why a received segment was rejected (PROTOCOL.md §5); negative, 0 = nothing to report.
enum RxResult {
  RX_NONE = 0,
  RX_OVERSIZE = -1,
  RX_COBS = -2,
  RX_SHORT = -3,
  RX_CRC = -4,
  RX_VERSION = -5,
  RX_TYPE = -6,
  RX_PAYLOAD = -7
};

// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0; check 0x29B1.
uint16_t crc16(const uint8_t* data, size_t len, uint16_t crc = 0xFFFF);

// COBS-encodes `len` bytes into `out` (room for len + len / 254 + 1); returns the length.
size_t cobs_encode(const uint8_t* in, size_t len, uint8_t* out);
// Decodes one COBS block; `out` may be `in` (decoding in place). Returns the length, or -1.
int cobs_decode(const uint8_t* in, size_t len, uint8_t* out);

// Where frame bytes go: Serial.write on a board, a buffer in tests.
typedef void (*PutByte)(void* ctx, uint8_t b);
// Sends 0x00, COBS(body), 0x00, encoding on the fly (no second buffer).
void send_frame(const uint8_t* body, size_t len, PutByte put, void* ctx);

// Builds a body in a caller's buffer; finish() appends the CRC. Writing past the buffer only
// sets a flag: finish() then returns 0 and nothing must be sent.
class Writer {
 public:
  Writer(uint8_t* buf, size_t cap);
  void header(uint8_t type, uint8_t node, uint8_t boot, uint16_t seq);
  void u8(uint8_t v);
  void i8(int8_t v);
  void u16(uint16_t v);
  void u32(uint32_t v);
  void i32(int32_t v);
  void str(const char* s);
  size_t finish();
  size_t length() const { return len_; }

 private:
  uint8_t* buf_;
  size_t cap_;
  size_t len_;
  bool overflow_;
};

// Reads a payload; any read past its end (or a bad string) sets !ok().
class Reader {
 public:
  Reader(const uint8_t* p, size_t len);
  uint8_t u8();
  int8_t i8();
  uint16_t u16();
  uint32_t u32();
  int32_t i32();
  // A length-prefixed printable-ASCII string of at most `max` characters, NUL-terminated in
  // `out` (room for max + 1).
  void str(char* out, uint8_t max);
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == len_; }

 private:
  const uint8_t* p_;
  size_t len_;
  size_t pos_;
  bool ok_;
};

struct Header {
  uint8_t version;
  uint8_t type;
  uint8_t node;
  uint8_t boot;
  uint16_t seq;
};

// Checks a decoded body (length, CRC, version) and reads its header. RX_NONE when good; the
// payload is then body + HEADER_BYTES, len - MIN_BODY bytes.
int check_body(const uint8_t* body, size_t len, Header& h);
// Checks a payload against its type (PROTOCOL.md §8): RX_NONE, RX_TYPE or RX_PAYLOAD.
int check_payload(uint8_t type, const uint8_t* payload, size_t len);

// ---- messages ---------------------------------------------------------------------------------

struct SensorInfo {
  uint8_t index;
  uint8_t quantity;
  uint8_t unit;
  const char* name;
};

struct ActuatorInfo {
  uint8_t channel;
  uint8_t kind;
  uint16_t max_on_s;
  const char* name;
};

// value = mantissa x 10^exp; exp = FAILED_EXP: the sensor failed (mantissa 0).
struct Value {
  uint8_t sensor;
  uint8_t unit;
  int8_t exp;
  int32_t mantissa;
};

struct Command {
  uint8_t channel;
  uint8_t action;  // 0 off, 1 on
  uint32_t duration_ms;
};

struct Ack {
  uint16_t ack_seq;
  uint8_t status;
  uint8_t relays;
};

struct Heartbeat {
  uint32_t uptime_s;
  uint8_t relays;
  uint16_t rx_errors;
};

// Each returns the body length, or 0 when it does not fit `cap` (or a count is out of range).
size_t build_hello(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, uint16_t heartbeat_s,
                   const char* firmware, const SensorInfo* sensors, uint8_t n_sensors, const ActuatorInfo* actuators,
                   uint8_t n_actuators);
size_t build_readings(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, uint16_t age_ds,
                      const Value* values, uint8_t count);
size_t build_heartbeat(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, const Heartbeat& hb);
size_t build_ack(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, const Ack& ack);
size_t build_error(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, uint8_t code, uint8_t detail,
                   const char* text);
size_t build_describe(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq);
size_t build_command(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, const Command& cmd);

bool parse_command(const uint8_t* payload, size_t len, Command& out);
bool parse_ack(const uint8_t* payload, size_t len, Ack& out);
bool parse_heartbeat(const uint8_t* payload, size_t len, Heartbeat& out);

// Collects bytes up to each 0x00 and decodes the segment in place. CAP bounds the largest
// segment kept (MAX_ENCODED for a gateway; a node that only receives commands needs 24).
template <size_t CAP>
class Receiver {
 public:
  Receiver() : len_(0), overflow_(0), last_(0), errors_(0) {}

  // Feeds one byte. > 0: a body of that length is ready in body() (CRC and version good).
  // < 0: a segment was rejected (RxResult). 0: nothing yet.
  int push(uint8_t b) {
    if (b != 0) {
      if (len_ < CAP) buf_[len_++] = b;
      else if (overflow_ < 0xFFFF) overflow_++;
      return RX_NONE;
    }
    if (len_ == 0) return RX_NONE;
    last_ = len_ + overflow_;
    int result;
    if (overflow_ > 0 || len_ > MAX_ENCODED) {
      result = RX_OVERSIZE;
    } else {
      int n = cobs_decode(buf_, len_, buf_);
      if (n < 0) {
        result = RX_COBS;
      } else {
        Header h;
        int check = check_body(buf_, (size_t)n, h);
        result = check == RX_NONE ? n : check;
      }
    }
    len_ = 0;
    overflow_ = 0;
    if (result < 0 && errors_ < 0xFFFF) errors_++;
    return result;
  }

  const uint8_t* body() const { return buf_; }
  // Bytes of the last segment, counting those beyond CAP.
  size_t last_length() const { return last_; }
  // Segments rejected so far (saturating): the heartbeat's rx_errors.
  uint16_t errors() const { return errors_; }
  // Counts a body the caller rejected after push() accepted it (check_payload failed).
  void reject() {
    if (errors_ < 0xFFFF) errors_++;
  }

 private:
  uint8_t buf_[CAP];
  size_t len_;
  uint16_t overflow_;
  size_t last_;
  uint16_t errors_;
};

}  // namespace sv

#endif
