/**
 * rpm header tag numbers and data types (rpm's lib/rpmtag.h, the rpm file format in
 * rpm.org/devel_doc/file_format.html). Only the tags pkgfleet reads or writes are named.
 */

/** Header data types (rpmTagType). */
export const RpmType = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;
export type RpmTypeCode = (typeof RpmType)[keyof typeof RpmType];

/** Tags of the main header. */
export const Tag = {
  HEADERIMAGE: 61,
  HEADERSIGNATURES: 62,
  HEADERIMMUTABLE: 63,
  HEADERI18NTABLE: 100,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  DESCRIPTION: 1005,
  BUILDTIME: 1006,
  BUILDHOST: 1007,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  GROUP: 1016,
  URL: 1020,
  OS: 1021,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  FILESIZES: 1028,
  FILEMODES: 1030,
  FILEFLAGS: 1037,
  SOURCERPM: 1044,
  ARCHIVESIZE: 1046,
  PROVIDENAME: 1047,
  REQUIREFLAGS: 1048,
  REQUIRENAME: 1049,
  REQUIREVERSION: 1050,
  CONFLICTFLAGS: 1053,
  CONFLICTNAME: 1054,
  CONFLICTVERSION: 1055,
  CHANGELOGTIME: 1080,
  CHANGELOGNAME: 1081,
  CHANGELOGTEXT: 1082,
  OBSOLETENAME: 1090,
  SOURCEPACKAGE: 1106,
  PROVIDEFLAGS: 1112,
  PROVIDEVERSION: 1113,
  OBSOLETEFLAGS: 1114,
  OBSOLETEVERSION: 1115,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  OLDSUGGESTSNAME: 1156,
  OLDSUGGESTSVERSION: 1157,
  OLDSUGGESTSFLAGS: 1158,
  OLDENHANCESNAME: 1159,
  OLDENHANCESVERSION: 1160,
  OLDENHANCESFLAGS: 1161,
  LONGFILESIZES: 5008,
  LONGSIZE: 5009,
  RECOMMENDNAME: 5046,
  RECOMMENDVERSION: 5047,
  RECOMMENDFLAGS: 5048,
  SUGGESTNAME: 5049,
  SUGGESTVERSION: 5050,
  SUGGESTFLAGS: 5051,
  SUPPLEMENTNAME: 5052,
  SUPPLEMENTVERSION: 5053,
  SUPPLEMENTFLAGS: 5054,
  ENHANCENAME: 5055,
  ENHANCEVERSION: 5056,
  ENHANCEFLAGS: 5057,
  PAYLOADDIGEST: 5092,
  PAYLOADDIGESTALGO: 5093,
} as const;

/** Tags of the signature header (rpmSigTag_e). */
export const SigTag = {
  /** Header-only OpenPGP signature by a DSA, ECDSA or EdDSA key (RPMSIGTAG_DSA = RPMTAG_DSAHEADER). */
  DSA: 267,
  /** Header-only OpenPGP signature by an RSA key (RPMSIGTAG_RSA = RPMTAG_RSAHEADER). */
  RSA: 268,
  SHA1: 269,
  LONGSIZE: 270,
  LONGARCHIVESIZE: 271,
  SHA256: 273,
  FILESIGNATURES: 274,
  FILESIGNATURELENGTH: 275,
  VERITYSIGNATURES: 276,
  VERITYSIGNATUREALGO: 277,
  /** rpm 6: v4/v6 OpenPGP signatures, possibly several (RPMSIGTAG_OPENPGP). */
  OPENPGP: 278,
  BADSHA1_1: 264,
  BADSHA1_2: 265,
  SIZE: 1000,
  /** Legacy header+payload signature by an RSA key. */
  PGP: 1002,
  MD5: 1004,
  /** Legacy header+payload signature by a DSA/EdDSA key. */
  GPG: 1005,
  PGP5: 1006,
  PAYLOADSIZE: 1007,
  RESERVEDSPACE: 1008,
} as const;

/** Dependency sense flags (rpmsenseFlags). */
export const Sense = {
  LESS: 1 << 1,
  GREATER: 1 << 2,
  EQUAL: 1 << 3,
  /** %pre/%post script dependencies and PreReq: createrepo_c writes pre="1". */
  PREREQ: 1 << 6,
  SCRIPT_PRE: 1 << 9,
  SCRIPT_POST: 1 << 10,
  /** Legacy weak dependency written as a Requires (rpm < 4.12). */
  MISSINGOK: 1 << 19,
  /** Legacy strong weak dependency (old Suggests/Enhances that mean Recommends/Supplements). */
  STRONG: 1 << 27,
} as const;

/** File flags (rpmfileAttrs). */
export const FileFlag = {
  GHOST: 1 << 6,
} as const;
