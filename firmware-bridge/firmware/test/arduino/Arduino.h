// Just enough of the Arduino API to build the reference sketch as a host program (tests only):
// Serial is a serial device named by $SV_SERIAL, analog pins read $SV_A0 / $SV_A1, every
// digitalWrite is printed on stdout as "pin <n> <level>".
#ifndef SV_HOST_ARDUINO_H
#define SV_HOST_ARDUINO_H

#include <stddef.h>
#include <stdint.h>

#define HIGH 1
#define LOW 0
#define INPUT 0
#define OUTPUT 1
#define A0 14
#define A1 15

uint32_t millis();
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t level);
int analogRead(uint8_t pin);
long map(long x, long in_min, long in_max, long out_min, long out_max);
#define constrain(x, lo, hi) ((x) < (lo) ? (lo) : ((x) > (hi) ? (hi) : (x)))

class HostSerial {
 public:
  void begin(unsigned long baud);
  int available();
  int read();
  size_t write(uint8_t b);
};
extern HostSerial Serial;

void setup();
void loop();

#endif
