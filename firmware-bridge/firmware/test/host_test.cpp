// Host test of the reference firmware's protocol code: every file in firmware-bridge/test-vectors
// checked byte for byte. Build and run: `make test` here, or the vitest test
// firmware-bridge/test/firmware-host.test.ts. Usage: host_test <test-vectors dir>
//
// The harness (not the firmware) may use the standard library: a tiny JSON reader of its own
// turns the vector files into values.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../node/src/sv_node.h"
#include "../node/src/sv_proto.h"

// ---- a small JSON reader ----------------------------------------------------------------------

struct Json {
  enum Kind { NUL, BOOL, NUM, STR, ARR, OBJ } kind = NUL;
  bool b = false;
  double num = 0;
  long long integer = 0;
  std::string str;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json> > obj;

  const Json* get(const std::string& key) const {
    for (size_t i = 0; i < obj.size(); i++)
      if (obj[i].first == key) return &obj[i].second;
    return 0;
  }
  const Json& at(const std::string& key) const {
    const Json* v = get(key);
    if (!v) {
      std::fprintf(stderr, "vector has no key \"%s\"\n", key.c_str());
      std::exit(2);
    }
    return *v;
  }
  long long i(const std::string& key) const { return at(key).integer; }
  const std::string& s(const std::string& key) const { return at(key).str; }
};

class Parser {
 public:
  explicit Parser(const std::string& text) : t_(text), p_(0) {}
  Json parse() {
    Json v = value();
    ws();
    if (p_ != t_.size()) fail("trailing characters");
    return v;
  }

 private:
  const std::string& t_;
  size_t p_;

  void fail(const char* what) {
    std::fprintf(stderr, "JSON error at %zu: %s\n", p_, what);
    std::exit(2);
  }
  void ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\r' || t_[p_] == '\t')) p_++;
  }
  bool eat(char c) {
    ws();
    if (p_ < t_.size() && t_[p_] == c) {
      p_++;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail("unexpected character");
  }
  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += (char)cp;
    } else if (cp < 0x800) {
      out += (char)(0xC0 | (cp >> 6));
      out += (char)(0x80 | (cp & 0x3F));
    } else {
      out += (char)(0xE0 | (cp >> 12));
      out += (char)(0x80 | ((cp >> 6) & 0x3F));
      out += (char)(0x80 | (cp & 0x3F));
    }
  }
  std::string string() {
    expect('"');
    std::string out;
    while (p_ < t_.size() && t_[p_] != '"') {
      char c = t_[p_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      char e = t_[p_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': utf8(out, (unsigned)std::strtoul(t_.substr(p_, 4).c_str(), 0, 16)); p_ += 4; break;
        default: out += e;
      }
    }
    expect('"');
    return out;
  }
  Json value() {
    ws();
    Json v;
    if (p_ >= t_.size()) fail("unexpected end");
    char c = t_[p_];
    if (c == '{') {
      v.kind = Json::OBJ;
      p_++;
      if (eat('}')) return v;
      do {
        ws();
        std::string k = string();
        expect(':');
        v.obj.push_back(std::make_pair(k, value()));
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      v.kind = Json::ARR;
      p_++;
      if (eat(']')) return v;
      do v.arr.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = Json::STR;
      v.str = string();
    } else if (t_.compare(p_, 4, "true") == 0) {
      v.kind = Json::BOOL;
      v.b = true;
      p_ += 4;
    } else if (t_.compare(p_, 5, "false") == 0) {
      v.kind = Json::BOOL;
      p_ += 5;
    } else if (t_.compare(p_, 4, "null") == 0) {
      p_ += 4;
    } else {
      size_t start = p_;
      while (p_ < t_.size() && std::strchr("+-0123456789.eE", t_[p_])) p_++;
      if (start == p_) fail("not a value");
      std::string n = t_.substr(start, p_ - start);
      v.kind = Json::NUM;
      v.num = std::strtod(n.c_str(), 0);
      v.integer = std::strtoll(n.c_str(), 0, 10);
    }
    return v;
  }
};

static Json load(const std::string& dir, const char* name) {
  std::ifstream f((dir + "/" + name).c_str(), std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s/%s\n", dir.c_str(), name);
    std::exit(2);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  return Parser(text).parse();
}

// ---- helpers ----------------------------------------------------------------------------------

static int checks = 0;
static int failures = 0;

static void check(bool ok, const std::string& what) {
  checks++;
  if (!ok) {
    failures++;
    std::printf("FAIL %s\n", what.c_str());
  }
}

static std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

static std::vector<uint8_t> unhex(const std::string& h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back((uint8_t)std::strtoul(h.substr(i, 2).c_str(), 0, 16));
  return out;
}

static void put_vec(void* ctx, uint8_t b) { static_cast<std::vector<uint8_t>*>(ctx)->push_back(b); }

// Written from PROTOCOL.md §11, independently of the TypeScript tables.
static int code_of(const char* table[], int n, const std::string& name) {
  for (int i = 0; i < n; i++)
    if (name == table[i]) return i;
  std::fprintf(stderr, "unknown name in a vector: %s\n", name.c_str());
  std::exit(2);
}
static const char* UNITS[] = {"", "%VWC", "\xC2\xB0" "C", "\xC2\xB5S/cm", "pH", "cm", "%", "%RH", "mm", "m/s", "\xC2\xB0",
                              "W/m\xC2\xB2", "lx", "L/min", "L", "V", "hPa", "mg/kg", "state", "count"};
static const char* QUANTITIES[] = {"", "soil-moisture", "soil-temperature", "soil-ec", "soil-ph", "soil-nitrogen",
                                   "soil-phosphorus", "soil-potassium", "water-level", "water-fill", "air-temperature",
                                   "relative-humidity", "air-pressure", "rain", "wind-speed", "wind-direction",
                                   "solar-radiation", "illuminance", "flow", "volume", "battery", "switch", "pulses"};
static const char* KINDS[] = {"relay", "valve", "pump", "master-valve", "light"};
static const char* STATUSES[] = {"done", "unknown-channel", "bad-duration", "unsupported", "fault"};
static int unit_code(const std::string& n) { return code_of(UNITS, 20, n); }
static int quantity_code(const std::string& n) { return code_of(QUANTITIES, 23, n); }
static int kind_code(const std::string& n) { return code_of(KINDS, 5, n); }
static int status_code(const std::string& n) { return code_of(STATUSES, 5, n); }

static const char* rx_name(int r) {
  switch (r) {
    case sv::RX_OVERSIZE: return "oversize";
    case sv::RX_COBS: return "cobs";
    case sv::RX_SHORT: return "short";
    case sv::RX_CRC: return "crc";
    case sv::RX_VERSION: return "version";
    case sv::RX_TYPE: return "type";
    case sv::RX_PAYLOAD: return "payload";
    default: return "none";
  }
}

// Builds the body of a vector's frame with the firmware's builders. 0 when the type is unknown.
static size_t build(const Json& frame, uint8_t* buf, size_t cap) {
  uint8_t node = (uint8_t)frame.i("node"), boot = (uint8_t)frame.i("boot");
  uint16_t seq = (uint16_t)frame.i("seq");
  const Json& m = frame.at("message");
  const std::string& type = m.s("type");
  if (type == "hello") {
    const Json& s = m.at("sensors");
    const Json& a = m.at("actuators");
    sv::SensorInfo sensors[sv::MAX_SENSORS];
    sv::ActuatorInfo actuators[sv::MAX_ACTUATORS];
    for (size_t i = 0; i < s.arr.size(); i++) {
      sensors[i].index = (uint8_t)s.arr[i].i("index");
      sensors[i].quantity = (uint8_t)quantity_code(s.arr[i].s("quantity"));
      sensors[i].unit = (uint8_t)unit_code(s.arr[i].s("unit"));
      sensors[i].name = s.arr[i].s("name").c_str();
    }
    for (size_t i = 0; i < a.arr.size(); i++) {
      actuators[i].channel = (uint8_t)a.arr[i].i("channel");
      actuators[i].kind = (uint8_t)kind_code(a.arr[i].s("kind"));
      actuators[i].max_on_s = (uint16_t)a.arr[i].i("maxOnS");
      actuators[i].name = a.arr[i].s("name").c_str();
    }
    return sv::build_hello(buf, cap, node, boot, seq, (uint16_t)m.i("heartbeatS"), m.s("firmware").c_str(), sensors,
                           (uint8_t)s.arr.size(), actuators, (uint8_t)a.arr.size());
  }
  if (type == "readings") {
    const Json& r = m.at("readings");
    sv::Value values[sv::MAX_READINGS];
    for (size_t i = 0; i < r.arr.size(); i++) {
      values[i].sensor = (uint8_t)r.arr[i].i("sensor");
      values[i].unit = (uint8_t)unit_code(r.arr[i].s("unit"));
      values[i].exp = (int8_t)r.arr[i].i("exp");
      values[i].mantissa = (int32_t)r.arr[i].i("mantissa");
    }
    return sv::build_readings(buf, cap, node, boot, seq, (uint16_t)m.i("ageDs"), values, (uint8_t)r.arr.size());
  }
  if (type == "heartbeat") {
    sv::Heartbeat hb = {(uint32_t)m.i("uptimeS"), (uint8_t)m.i("relays"), (uint16_t)m.i("rxErrors")};
    return sv::build_heartbeat(buf, cap, node, boot, seq, hb);
  }
  if (type == "ack") {
    sv::Ack a = {(uint16_t)m.i("ackSeq"), (uint8_t)status_code(m.s("status")), (uint8_t)m.i("relays")};
    return sv::build_ack(buf, cap, node, boot, seq, a);
  }
  if (type == "error")
    return sv::build_error(buf, cap, node, boot, seq, (uint8_t)m.i("code"), (uint8_t)m.i("detail"), m.s("text").c_str());
  if (type == "describe") return sv::build_describe(buf, cap, node, boot, seq);
  if (type == "command") {
    sv::Command c = {(uint8_t)m.i("channel"), (uint8_t)(m.at("on").b ? 1 : 0), (uint32_t)m.i("durationMs")};
    return sv::build_command(buf, cap, node, boot, seq, c);
  }
  return 0;
}

// Decodes a body with the firmware's reader and compares every field with the vector.
static void compare_decoded(const Json& frame, const uint8_t* body, size_t len, const std::string& name) {
  sv::Header h;
  check(sv::check_body(body, len, h) == sv::RX_NONE, name + ": body checks");
  check(h.node == frame.i("node") && h.boot == frame.i("boot") && h.seq == frame.i("seq"), name + ": header");
  const uint8_t* p = body + sv::HEADER_BYTES;
  size_t n = len - sv::MIN_BODY;
  check(sv::check_payload(h.type, p, n) == sv::RX_NONE, name + ": payload checks");
  const Json& m = frame.at("message");
  const std::string& type = m.s("type");
  sv::Reader r(p, n);
  char text[64];
  if (type == "hello") {
    check(h.type == sv::HELLO && r.u16() == m.i("heartbeatS"), name + ": heartbeat");
    const Json& s = m.at("sensors");
    const Json& a = m.at("actuators");
    check(r.u8() == s.arr.size() && r.u8() == a.arr.size(), name + ": counts");
    r.str(text, sv::MAX_FIRMWARE);
    check(m.s("firmware") == text, name + ": firmware");
    for (size_t i = 0; i < s.arr.size(); i++) {
      bool ok = r.u8() == s.arr[i].i("index") && r.u8() == quantity_code(s.arr[i].s("quantity")) &&
                r.u8() == unit_code(s.arr[i].s("unit"));
      r.str(text, sv::MAX_NAME);
      check(ok && s.arr[i].s("name") == text, name + ": sensor");
    }
    for (size_t i = 0; i < a.arr.size(); i++) {
      bool ok = r.u8() == a.arr[i].i("channel") && r.u8() == kind_code(a.arr[i].s("kind")) &&
                r.u16() == a.arr[i].i("maxOnS");
      r.str(text, sv::MAX_NAME);
      check(ok && a.arr[i].s("name") == text, name + ": actuator");
    }
  } else if (type == "readings") {
    const Json& v = m.at("readings");
    check(h.type == sv::READINGS && r.u16() == m.i("ageDs") && r.u8() == v.arr.size(), name + ": age and count");
    for (size_t i = 0; i < v.arr.size(); i++) {
      bool ok = r.u8() == v.arr[i].i("sensor") && r.u8() == unit_code(v.arr[i].s("unit"));
      ok = ok && r.i8() == v.arr[i].i("exp") && r.i32() == v.arr[i].i("mantissa");
      check(ok, name + ": value");
    }
  } else if (type == "heartbeat") {
    sv::Heartbeat hb;
    check(sv::parse_heartbeat(p, n, hb) && hb.uptime_s == m.i("uptimeS") && hb.relays == m.i("relays") &&
              hb.rx_errors == m.i("rxErrors"),
          name + ": heartbeat fields");
    r.u32(), r.u8(), r.u16();
  } else if (type == "ack") {
    sv::Ack a;
    check(sv::parse_ack(p, n, a) && a.ack_seq == m.i("ackSeq") && a.status == status_code(m.s("status")) &&
              a.relays == m.i("relays"),
          name + ": ack fields");
    r.u16(), r.u8(), r.u8();
  } else if (type == "error") {
    check(r.u8() == m.i("code") && r.u8() == m.i("detail"), name + ": error code");
    r.str(text, sv::MAX_TEXT);
    check(m.s("text") == text, name + ": error text");
  } else if (type == "command") {
    sv::Command c;
    check(sv::parse_command(p, n, c) && c.channel == m.i("channel") && c.action == (m.at("on").b ? 1 : 0) &&
              c.duration_ms == (uint32_t)m.i("durationMs"),
          name + ": command fields");
    r.u8(), r.u8(), r.u32();
  }
  check(r.done(), name + ": whole payload read");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: host_test <test-vectors dir>\n");
    return 2;
  }
  std::string dir = argv[1];

  // crc16.json
  Json crc = load(dir, "crc16.json");
  for (size_t i = 0; i < crc.at("vectors").arr.size(); i++) {
    const Json& v = crc.at("vectors").arr[i];
    std::vector<uint8_t> data;
    if (v.get("ascii")) data.assign(v.s("ascii").begin(), v.s("ascii").end());
    else data = unhex(v.s("hex"));
    uint16_t c = sv::crc16(data.empty() ? 0 : &data[0], data.size());
    uint8_t be[2] = {(uint8_t)(c >> 8), (uint8_t)c};
    check(hex(be, 2) == v.s("crc"), "crc16 " + hex(be, 2) + " != " + v.s("crc"));
  }

  // cobs.json
  Json cobs = load(dir, "cobs.json");
  for (size_t i = 0; i < cobs.at("vectors").arr.size(); i++) {
    const Json& v = cobs.at("vectors").arr[i];
    std::vector<uint8_t> raw = unhex(v.s("raw"));
    std::vector<uint8_t> enc = unhex(v.s("encoded"));
    uint8_t out[600];
    size_t n = sv::cobs_encode(raw.empty() ? 0 : &raw[0], raw.size(), out);
    check(hex(out, n) == v.s("encoded"), "cobs encode: " + v.s("name"));
    int d = sv::cobs_decode(&enc[0], enc.size(), &enc[0]);  // in place, as the Receiver does
    check(d >= 0 && hex(&enc[0], (size_t)d) == v.s("raw"), "cobs decode: " + v.s("name"));
  }

  // frames.json: encode with the builders (body and wire), decode with the receiver.
  Json frames = load(dir, "frames.json");
  const std::vector<Json>& list = frames.at("frames").arr;
  for (size_t i = 0; i < list.size(); i++) {
    const Json& v = list[i];
    const std::string& name = v.s("name");
    uint8_t body[sv::MAX_BODY];
    size_t n = build(v.at("frame"), body, sizeof body);
    check(n > 0 && hex(body, n) == v.s("body"), name + ": body " + hex(body, n));
    std::vector<uint8_t> wire;
    sv::send_frame(body, n, put_vec, &wire);
    check(hex(&wire[0], wire.size()) == v.s("wire"), name + ": wire " + hex(&wire[0], wire.size()));
    // The same builders refuse a buffer one byte too small.
    uint8_t small[sv::MAX_BODY];
    check(n == 0 || build(v.at("frame"), small, n - 1) == 0, name + ": short buffer refused");
    sv::Receiver<sv::MAX_ENCODED> rx;
    std::vector<uint8_t> in = unhex(v.s("wire"));
    int got = 0;
    for (size_t k = 0; k < in.size(); k++) {
      int r = rx.push(in[k]);
      if (r != 0) got = r;
    }
    check(got == (int)n, name + ": received");
    if (got > 0) compare_decoded(v.at("frame"), rx.body(), (size_t)got, name);
  }

  // invalid.json
  Json invalid = load(dir, "invalid.json");
  for (size_t i = 0; i < invalid.at("frames").arr.size(); i++) {
    const Json& v = invalid.at("frames").arr[i];
    sv::Receiver<sv::MAX_ENCODED> rx;
    std::vector<uint8_t> in = unhex(v.s("wire"));
    int result = 0;
    for (size_t k = 0; k < in.size(); k++) {
      int r = rx.push(in[k]);
      if (r > 0) {
        sv::Header h;
        sv::check_body(rx.body(), (size_t)r, h);
        r = sv::check_payload(h.type, rx.body() + sv::HEADER_BYTES, (size_t)r - sv::MIN_BODY);
        if (r == 0) r = 1;  // accepted
        else rx.reject();
      }
      if (r != 0) result = r;
    }
    check(result < 0 && v.s("error") == rx_name(result), "invalid: " + v.s("name") + " gave " + rx_name(result));
    check(rx.errors() == (result < 0 ? 1 : 0), "invalid: " + v.s("name") + " counted");
  }

  // streams.json
  Json streams = load(dir, "streams.json");
  for (size_t i = 0; i < streams.at("streams").arr.size(); i++) {
    const Json& s = streams.at("streams").arr[i];
    sv::Receiver<sv::MAX_ENCODED> rx;
    std::vector<std::string> results;
    size_t garbage = 0;
    for (size_t c = 0; c < s.at("chunks").arr.size(); c++) {
      std::vector<uint8_t> chunk = unhex(s.at("chunks").arr[c].str);
      for (size_t k = 0; k < chunk.size(); k++) {
        int r = rx.push(chunk[k]);
        if (r > 0) {
          sv::Header h;
          sv::check_body(rx.body(), (size_t)r, h);
          int p = sv::check_payload(h.type, rx.body() + sv::HEADER_BYTES, (size_t)r - sv::MIN_BODY);
          if (p < 0) r = p;
        }
        if (r > 0) {
          std::string body = hex(rx.body(), (size_t)r);
          int found = -1;
          for (size_t f = 0; f < list.size(); f++)
            if (list[f].s("body") == body) found = (int)f;
          char buf[32];
          std::snprintf(buf, sizeof buf, "frame:%d", found);
          results.push_back(buf);
        } else if (r < 0) {
          results.push_back(std::string("error:") + rx_name(r));
          garbage += rx.last_length();
        }
      }
    }
    const Json& want = s.at("results");
    bool same = want.arr.size() == results.size();
    for (size_t k = 0; same && k < results.size(); k++) same = want.arr[k].str == results[k];
    std::string got;
    for (size_t k = 0; k < results.size(); k++) got += results[k] + " ";
    check(same, "stream: " + s.s("name") + ": got " + got);
    check((long long)garbage == s.at("stats").i("garbageBytes"), "stream: " + s.s("name") + ": garbage bytes");
  }

  // node-rules.json: the command rules of sv::Node.
  Json rules = load(dir, "node-rules.json");
  const Json& spec = rules.at("node");
  sv::Node node((uint8_t)spec.i("id"), 0x2A, (uint8_t)spec.i("relays"), (uint16_t)spec.i("maxOnS"));
  static const char* OUTCOMES[] = {"none", "executed", "repeat", "stale", "none"};
  for (size_t i = 0; i < rules.at("steps").arr.size(); i++) {
    const Json& step = rules.at("steps").arr[i];
    const std::string& name = step.s("name");
    uint32_t now = (uint32_t)(unsigned long long)step.i("at");  // millis() wraps at 2^32
    node.expire(now);
    const Json& expect = step.at("expect");
    if (const Json* frame = step.get("frame")) {
      uint8_t body[sv::MAX_BODY];
      size_t n = build(*frame, body, sizeof body);
      sv::Header h;
      check(n > 0 && sv::check_body(body, n, h) == sv::RX_NONE, name + ": frame built");
      sv::Ack ack = {0, 0, 0};
      sv::Outcome o = node.handle(h, body + sv::HEADER_BYTES, n - sv::MIN_BODY, now, ack);
      check(expect.s("outcome") == OUTCOMES[o], name + ": outcome " + OUTCOMES[o]);
      const Json& reply = expect.at("reply");
      if (reply.kind == Json::NUL) {
        check(o == sv::OUTCOME_NONE || o == sv::OUTCOME_STALE, name + ": no reply");
      } else if (reply.s("type") == "hello") {
        check(o == sv::OUTCOME_DESCRIBE, name + ": hello");
      } else {
        check((o == sv::OUTCOME_EXECUTED || o == sv::OUTCOME_REPEAT) && ack.ack_seq == reply.i("ackSeq") &&
                  ack.status == status_code(reply.s("status")) && ack.relays == reply.i("relays"),
              name + ": ack");
      }
    }
    check(node.relays() == expect.i("relays"), name + ": relays");
  }

  std::printf("host_test: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
