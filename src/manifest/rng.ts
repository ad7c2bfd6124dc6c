// Seeded, deterministic randomness for everything a manifest needs to be "random" (partition
// table, partition and filesystem UUIDs). Same seed => same sequence => byte-identical manifests.
// This is SplitMix64 on BigInt; it does not try to reproduce Go's math/rand (upstream's UUIDs are
// treated as opaque, see the reference §10).

const MASK64 = (1n << 64n) - 1n;

/** A 64-bit SplitMix generator. Cheap to create; make one per manifest from the request seed. */
export class Rng {
  private state: bigint;

  constructor(seed: bigint) {
    this.state = BigInt.asUintN(64, seed);
  }

  /** The next 64-bit value, as an unsigned bigint. */
  nextU64(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  }

  /** `n` bytes from the stream (whole 64-bit words are drawn; the rest of the last one is dropped). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0;
    while (i < n) {
      let w = this.nextU64();
      for (let k = 0; k < 8 && i < n; k++, i++) {
        out[i] = Number(w & 0xffn);
        w >>= 8n;
      }
    }
    return out;
  }
}

/** A random (version 4, RFC 4122 variant) UUID in lowercase canonical form. */
export function uuid4(rng: Rng): string {
  const b = rng.bytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A FAT volume id derived from a UUID: its first 8 hex digits, upper case, as `XXXX-XXXX`
 * (the form fstab and blkid use; mkfs.fat takes it without the dash, see `vfatVolid`).
 */
export function vfatVolumeId(uuid: string): string {
  const hex = uuid.replace(/-/g, '').slice(0, 8).toUpperCase();
  if (!/^[0-9A-F]{8}$/.test(hex)) throw new Error(`vfatVolumeId: "${uuid}" does not start with 8 hex digits`);
  return `${hex.slice(0, 4)}-${hex.slice(4)}`;
}

/** `XXXX-XXXX` -> `XXXXXXXX`, the form `org.osbuild.mkfs.fat` takes as `volid`. */
export function vfatVolid(volumeId: string): string {
  return volumeId.replace(/-/g, '');
}

/** A DOS (MBR) disk identifier from a UUID: `0x` + its first 8 hex digits, lower case. */
export function dosDiskId(uuid: string): string {
  return '0x' + uuid.replace(/-/g, '').slice(0, 8).toLowerCase();
}
