import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadOrCreateKeyFile, parseKeyring, TokenCipher, type EncryptionKey } from "../../src/store/token-cipher.js";

const key = (id: string): EncryptionKey => ({ id, key: randomBytes(32) });

describe("TokenCipher", () => {
  const old = key("2025");
  const current = key("2026");

  it("opens what it sealed, and the sealed form does not contain the plaintext", () => {
    const cipher = new TokenCipher([current]);
    const sealed = cipher.seal("access-token-value", "provider-token:truecaller:u1");
    expect(sealed.startsWith("2026.")).toBe(true);
    expect(sealed).not.toContain("access-token-value");
    expect(cipher.open(sealed, "provider-token:truecaller:u1")).toBe("access-token-value");
  });

  it("seals each value with a fresh IV", () => {
    const cipher = new TokenCipher([current]);
    expect(cipher.seal("same", "ctx")).not.toBe(cipher.seal("same", "ctx"));
  });

  it("rotates: the first key seals, older keys still open", () => {
    const sealedWithOld = new TokenCipher([old]).seal("t", "ctx");
    const rotated = new TokenCipher([current, old]);
    expect(rotated.open(sealedWithOld, "ctx")).toBe("t");
    expect(rotated.seal("t", "ctx").startsWith("2026.")).toBe(true);
  });

  it.each([
    ["another context (a value copied under another user's key)", (sealed: string) => [sealed, "other-ctx"]],
    ["a tampered ciphertext", (sealed: string) => [sealed.replace(/\.([A-Za-z0-9_-])/, (_m, c: string) => `.${c === "A" ? "B" : "A"}`), "ctx"]],
    ["a key no longer in the ring", (sealed: string) => [sealed.replace(/^2026\./, "1999."), "ctx"]],
    ["garbage", () => ["not-sealed", "ctx"]],
    ["a tag cut to 4 bytes", (sealed: string) => {
      const parts = sealed.split(".");
      parts[3] = Buffer.from(parts[3]!, "base64url").subarray(0, 4).toString("base64url");
      return [parts.join("."), "ctx"];
    }],
  ])("refuses %s", (_name, change) => {
    const cipher = new TokenCipher([current]);
    const [sealed, context] = change(cipher.seal("t", "ctx"));
    expect(cipher.open(sealed!, context!)).toBeUndefined();
  });
});

describe("parseKeyring", () => {
  const b64 = randomBytes(32).toString("base64");
  it("reads id:key entries in order", () => {
    expect(parseKeyring(`new:${b64}, old:${b64}`)?.map((k) => k.id)).toEqual(["new", "old"]);
  });
  it.each([["empty", ""], ["no id", `:${b64}`], ["short key", `a:${randomBytes(31).toString("base64")}`], ["bad id", `a b:${b64}`]])(
    "rejects %s",
    (_name, value) => {
      expect(parseKeyring(value)).toBeUndefined();
    },
  );
});

describe("loadOrCreateKeyFile", () => {
  it("generates a key once, readable by the owner only, and reuses it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "phonegate-key-"));
    try {
      const file = join(dir, "nested", "token-encryption.key");
      const [first] = await loadOrCreateKeyFile(file);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const [again] = await loadOrCreateKeyFile(file);
      expect(again).toEqual(first);
      expect(await readFile(file, "utf8")).toBe(`${first.id}:${first.key.toString("base64")}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("gives concurrent first starts the same key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "phonegate-key-"));
    try {
      const file = join(dir, "token-encryption.key");
      const rings = await Promise.all([loadOrCreateKeyFile(file), loadOrCreateKeyFile(file), loadOrCreateKeyFile(file)]);
      expect(new Set(rings.map(([k]) => k.id)).size).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
