import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** How one kind of development secret is read back and first made. */
export interface SecretFileFormat<T> {
  /** The secret held in the file's text, or `undefined` when the text is not one. */
  parse(text: string): T | undefined;
  /** A new secret and the text that stores it. */
  generate(): { secret: T; text: string };
}

/**
 * A secret generated on first start and kept (mode 0600) in `file`, so what it
 * protects survives a restart. Outside production only: deployments configure
 * their secrets.
 */
export async function loadOrCreateSecretFile<T>(file: string, format: SecretFileFormat<T>): Promise<T> {
  try {
    const secret = format.parse(await readFile(file, "utf8"));
    if (secret === undefined) throw new Error(`${file} does not hold a valid secret; delete it to generate a new one`);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const { secret, text } = format.generate();
  await mkdir(dirname(file), { recursive: true });
  // Written aside, then linked into place: a concurrent start never reads a half-written file.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(draft, text, { mode: 0o600 });
  try {
    await link(draft, file);
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateSecretFile(file, format);
    throw error;
  } finally {
    await unlink(draft);
  }
  return secret;
}
