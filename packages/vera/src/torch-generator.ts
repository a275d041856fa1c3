/**
 * torch's CPU random generator, bit for bit: a 32-bit Mersenne Twister (mt19937) seeded as
 * `torch.Generator().manual_seed(seed)` seeds it (the low 32 bits, standard init_genrand).
 */
export class TorchGenerator {
  private readonly state = new Uint32Array(624);
  private index = 624;

  constructor(seed: number | bigint) {
    const low = Number(BigInt.asUintN(32, BigInt(seed)));
    this.state[0] = low;
    for (let i = 1; i < 624; i++) {
      const previous = this.state[i - 1]! ^ (this.state[i - 1]! >>> 30);
      this.state[i] = (Math.imul(1812433253, previous) + i) >>> 0;
    }
  }

  /** One 32-bit output (genrand_int32). */
  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const state = this.state;
    for (let i = 0; i < 624; i++) {
      const y = (state[i]! & 0x80000000) | (state[(i + 1) % 624]! & 0x7fffffff);
      let next = state[(i + 397) % 624]! ^ (y >>> 1);
      if (y & 1) next ^= 0x9908b0df;
      state[i] = next >>> 0;
    }
    this.index = 0;
  }

  /**
   * `torch.empty(size).uniform_(low, high, generator=g)` for float32 on the CPU: one 32-bit draw
   * per element in row-major order, its low 24 bits scaled to [0, 1), computed in double with the
   * float32 bounds, then rounded to float32.
   */
  uniform(size: number, low: number, high: number): Float32Array {
    const from = Math.fround(low);
    const to = Math.fround(high);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = (this.nextUint32() & 0xffffff) * 2 ** -24 * (to - from) + from;
    return values;
  }
}

/** PEFT's _kaiming_init bound for a 2-D `[rows, fanIn]` tensor: √3 · √2/√fanIn. */
export function kaimingUniformBound(fanIn: number): number {
  return Math.sqrt(3) * (Math.SQRT2 / Math.sqrt(fanIn));
}

/**
 * VeRA's shared projections as PEFT 0.11.1 draws them from `projection_prng_key`: vera_A `[r, in]`
 * then, from the same generator, vera_B `[out, r]`, each kaiming-uniform with its own fan-in.
 */
export function veraProjectionValues(key: number | bigint, r: number, inFeatures: number, outFeatures: number): { a: Float32Array; b: Float32Array } {
  const generator = new TorchGenerator(key);
  const boundA = kaimingUniformBound(inFeatures);
  const a = generator.uniform(r * inFeatures, -boundA, boundA);
  const boundB = kaimingUniformBound(r);
  const b = generator.uniform(outFeatures * r, -boundB, boundB);
  return { a, b };
}
