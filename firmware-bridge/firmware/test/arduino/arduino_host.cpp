// The host side of Arduino.h / EEPROM.h (tests only): runs setup() then loop() forever.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "Arduino.h"
#include "EEPROM.h"

HostSerial Serial;
HostEEPROM EEPROM;

static int fd = -1;
static int peeked = -1;
static uint8_t eeprom[1024];
static struct timespec t0;

uint32_t millis() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  long long ms = (long long)(t.tv_sec - t0.tv_sec) * 1000LL + (t.tv_nsec - t0.tv_nsec) / 1000000LL;
  return (uint32_t)ms;
}

void pinMode(uint8_t, uint8_t) {}

void digitalWrite(uint8_t pin, uint8_t level) {
  printf("pin %u %u\n", pin, level);
  fflush(stdout);
}

int analogRead(uint8_t pin) {
  const char* v = getenv(pin == A0 ? "SV_A0" : "SV_A1");
  return v ? atoi(v) : 512;
}

long map(long x, long in_min, long in_max, long out_min, long out_max) {
  return (x - in_min) * (out_max - out_min) / (in_max - in_min) + out_min;
}

void HostSerial::begin(unsigned long) {
  const char* path = getenv("SV_SERIAL");
  if (!path) {
    fprintf(stderr, "set SV_SERIAL to a serial device\n");
    exit(2);
  }
  fd = open(path, O_RDWR | O_NOCTTY);
  if (fd < 0) {
    fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
    exit(2);
  }
  struct termios tio;
  if (tcgetattr(fd, &tio) == 0) {
    cfmakeraw(&tio);
    tcsetattr(fd, TCSANOW, &tio);
  }
}

int HostSerial::available() {
  if (peeked >= 0) return 1;
  struct pollfd p = {fd, POLLIN, 0};
  // Waiting here up to 1 ms keeps loop() from spinning a core.
  if (poll(&p, 1, 1) <= 0) return 0;
  if (p.revents & (POLLHUP | POLLERR)) exit(3);  // the line went away
  uint8_t b;
  if (::read(fd, &b, 1) != 1) return 0;
  peeked = b;
  return 1;
}

int HostSerial::read() {
  if (peeked < 0 && !available()) return -1;
  int b = peeked;
  peeked = -1;
  return b;
}

size_t HostSerial::write(uint8_t b) { return ::write(fd, &b, 1) == 1 ? 1 : 0; }

static void load_eeprom() {
  memset(eeprom, 0xFF, sizeof eeprom);  // an erased EEPROM reads 0xFF
  const char* path = getenv("SV_EEPROM");
  FILE* f = path ? fopen(path, "rb") : 0;
  if (f) {
    if (fread(eeprom, 1, sizeof eeprom, f) == 0) memset(eeprom, 0xFF, sizeof eeprom);
    fclose(f);
  }
}

uint8_t HostEEPROM::read(int address) { return eeprom[address & 1023]; }

void HostEEPROM::write(int address, uint8_t value) {
  eeprom[address & 1023] = value;
  const char* path = getenv("SV_EEPROM");
  FILE* f = path ? fopen(path, "wb") : 0;
  if (f) {
    fwrite(eeprom, 1, sizeof eeprom, f);
    fclose(f);
  }
}

void HostEEPROM::update(int address, uint8_t value) {
  if (read(address) != value) write(address, value);
}

static void on_term(int) { _exit(0); }

int main() {
  signal(SIGTERM, on_term);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  load_eeprom();
  setup();
  for (;;) loop();
}
