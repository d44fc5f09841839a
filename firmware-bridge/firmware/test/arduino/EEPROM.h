// Host EEPROM for the sketch (tests only): kept in the file $SV_EEPROM, so the boot counter
// changes across runs as on a board.
#ifndef SV_HOST_EEPROM_H
#define SV_HOST_EEPROM_H

#include <stdint.h>

class HostEEPROM {
 public:
  uint8_t read(int address);
  void write(int address, uint8_t value);
  void update(int address, uint8_t value);
};
extern HostEEPROM EEPROM;

#endif
