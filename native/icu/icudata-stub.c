/*
 * A stand-in for ICU's data library (libicudata.so.<major>) in the Venus package: an empty ICU common data
 * collection, in place of the 30 MB of locale, collation, time-zone and conversion tables the real one maps into
 * the address space, which Venus limits to 150 MB on 32-bit devices.
 *
 * Nothing of the plugin needs those tables: it formats numbers and JSON itself, reads and writes UTF-8 only, and
 * uses no Intl API. What ICU keeps in its own code (Unicode properties, case mapping, normalization, UTF-8 and
 * Latin-1 conversion) still works; a request for anything else (a locale's collation, a time zone's name) gets
 * ICU's "missing resource" error, as it would with ICU's own stub.
 *
 * The layout is ICU's common data format: a header (its size, the magic bytes 0xda 0x27, then the data info: its
 * own size, byte order, charset family, size of a UChar, format "CmnD" version 1, data version), padded to
 * 32 bytes, followed by the table of contents, here a count of 0 entries. ICU finds it by the library's symbol
 * icudt<major>_dat. Built by scripts/package.sh with -DICU_MAJOR=<major>.
 */
#include <stdint.h>

#ifndef ICU_MAJOR
#error "ICU_MAJOR must be set (the major version of the ICU the package carries, e.g. 72)"
#endif

#define DFMQ_CONCAT(a, b, c) a##b##c
#define DFMQ_ENTRY(major) DFMQ_CONCAT(icudt, major, _dat)

struct EmptyCommonData
{
    uint16_t headerSize;
    uint8_t magic1;
    uint8_t magic2;
    /* the data info */
    uint16_t infoSize;
    uint16_t reservedWord;
    uint8_t isBigEndian;
    uint8_t charsetFamily;
    uint8_t sizeofUChar;
    uint8_t reservedByte;
    uint8_t dataFormat[4];
    uint8_t formatVersion[4];
    uint8_t dataVersion[4];
    uint8_t padding[8];
    /* the table of contents */
    uint32_t count;
};

__attribute__((visibility("default"), aligned(16))) const struct EmptyCommonData DFMQ_ENTRY(ICU_MAJOR) = {
    32, 0xda, 0x27,
    20, 0,
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    1,
#else
    0,
#endif
    0 /* ASCII */, 2, 0,
    {'C', 'm', 'n', 'D'}, {1, 0, 0, 0}, {0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0},
    0,
};
