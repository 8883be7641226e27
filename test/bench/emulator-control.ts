/**
 * The harness's side of the bench emulator's control API (see emulator-process.ts): bulk minting,
 * and a pool of minted codes that scenarios take from synchronously (autocannon's `setupRequest`
 * cannot wait) while it refills itself in the background.
 */

/** One mint request's limit: a few MB of JSON either way. */
export const MAX_MINT_PER_REQUEST = 20_000;

/** A Truecaller account as the emulator's profile names it. */
export interface BenchUser {
  /** Truecaller's `sub`. */
  readonly sub: string;
  /** Digits with the country prefix and no plus, as Truecaller sends them, e.g. "919800000042". */
  readonly phoneNumber: string;
}

export type MintRequest = { readonly users: readonly BenchUser[] } | { readonly count: number };

export interface MintAnswer {
  codes: string[];
  verifiers: string[];
}

/** An authorization code with the PKCE verifier its challenge was made from. */
export interface Grant {
  readonly code: string;
  readonly verifier: string;
}

export class EmulatorControl {
  constructor(private readonly controlUrl: string) {}

  /** Mints `users.length` codes (one per user) or `count` codes for generated profiles, in chunks. */
  async mint(request: { users: readonly BenchUser[] } | { count: number }): Promise<Grant[]> {
    const total = "users" in request ? request.users.length : request.count;
    const grants: Grant[] = [];
    for (let offset = 0; offset < total; offset += MAX_MINT_PER_REQUEST) {
      const size = Math.min(MAX_MINT_PER_REQUEST, total - offset);
      const chunk: MintRequest = "users" in request ? { users: request.users.slice(offset, offset + size) } : { count: size };
      const answer = (await this.post("/bench/codes", chunk)) as MintAnswer;
      answer.codes.forEach((code, i) => grants.push({ code, verifier: answer.verifiers[i]! }));
    }
    return grants;
  }

  /** Forgets every code, token and logged request (bounds the emulator's memory between scenarios). */
  async reset(): Promise<void> {
    await this.post("/bench/reset", {});
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${this.controlUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`bench emulator ${path}: HTTP ${response.status} ${await response.text()}`);
    return response.status === 204 ? undefined : response.json();
  }
}

/** Where a pool's codes come from: users to mint for, or generated profiles. */
export type GrantSource = { readonly kind: "users"; next(count: number): BenchUser[] } | { readonly kind: "generated" };

/** Refill in chunks small enough that minting (synchronous in the emulator, ~50 µs a code) stalls its answers only briefly. */
const REFILL_CHUNK = 2_000;
/** A refill starts when this few codes are left: enough for the time a chunk takes to mint at a few thousand a second. */
const LOW_WATER = 1_000;

/**
 * Codes minted ahead of the load. {@link take} is synchronous; when fewer than `lowWater` are left
 * a background refill starts (counted in {@link refills}, since minting during a measured run adds a
 * little to the emulator's latency — pre-mint enough with {@link topUp} to keep it at zero).
 */
export class GrantPool {
  #grants: Grant[] = [];
  #next = 0;
  #refilling: Promise<void> | undefined;
  /** Background refills started since the last {@link resetCounters}. */
  refills = 0;
  /** {@link take} calls that found the pool empty since the last {@link resetCounters}. */
  misses = 0;
  /** Codes handed out since the last {@link resetCounters}. */
  taken = 0;
  #refillError: Error | undefined;

  constructor(
    private readonly control: EmulatorControl,
    private readonly source: GrantSource,
    private readonly lowWater = LOW_WATER,
  ) {}

  get available(): number {
    return this.#grants.length - this.#next;
  }

  /** Mints until at least `wanted` codes are available. */
  async topUp(wanted: number): Promise<void> {
    await this.#refilling;
    const missing = wanted - this.available;
    if (missing > 0) this.#append(await this.#mint(missing));
  }

  /** The next unused code, or undefined when the pool ran dry (a refill is then under way). */
  take(): Grant | undefined {
    if (this.available <= this.lowWater && this.#refilling === undefined) this.#refillInBackground();
    if (this.available === 0) {
      this.misses += 1;
      return undefined;
    }
    this.taken += 1;
    const grant = this.#grants[this.#next]!;
    this.#next += 1;
    return grant;
  }

  resetCounters(): void {
    this.refills = 0;
    this.misses = 0;
    this.taken = 0;
    if (this.#refillError) throw this.#refillError;
  }

  /** Drops the codes left (after an emulator reset they are unknown there), once a running refill settled. */
  async clear(): Promise<void> {
    await this.#refilling;
    this.#grants = [];
    this.#next = 0;
  }

  #refillInBackground(): void {
    this.refills += 1;
    this.#refilling = this.#mint(REFILL_CHUNK)
      .then((grants) => this.#append(grants))
      .catch((error: unknown) => {
        this.#refillError = error as Error;
      })
      .finally(() => {
        this.#refilling = undefined;
      });
  }

  #append(grants: Grant[]): void {
    // Drop what was used, so a long run does not keep every code it ever minted.
    this.#grants = this.#grants.slice(this.#next).concat(grants);
    this.#next = 0;
  }

  #mint(count: number): Promise<Grant[]> {
    return this.source.kind === "users" ? this.control.mint({ users: this.source.next(count) }) : this.control.mint({ count });
  }
}
