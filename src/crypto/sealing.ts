/**
 * Sealing of secrets that must be recoverable later (a share link's token until it is revealed, a
 * webhook's signing secret): AES-256-GCM under a key derived from LATCHKEY_SECRET with HKDF-SHA256
 * and a per-purpose label. Sealed form: `v1.{iv}.{ciphertext}.{tag}` (base64url). The additional
 * data binds a sealed value to its purpose and owner (e.g. the share link id hash), so a sealed
 * value copied to another row does not open.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const TAG_BYTES = 16;

export interface Sealer {
  seal(plaintext: string, context: string): string;
  /** Undefined when the value was tampered with, sealed for another context, or under another secret. */
  open(sealed: string, context: string): string | undefined;
}

export function createSealer(secret: string, purpose: string): Sealer {
  const key = Buffer.from(hkdfSync("sha256", secret, "latchkey", `latchkey:${purpose}:v1`, 32));
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      const parts = [iv, body, cipher.getAuthTag()].map((part) => part.toString("base64url"));
      return `v1.${parts.join(".")}`;
    },
    open(sealed, context) {
      const parts = sealed.split(".");
      const [version, iv, body, tag] = parts;
      if (parts.length !== 4 || version !== "v1" || !iv || body === undefined || !tag) return undefined;
      try {
        // A fixed tag length: GCM would otherwise accept a tag truncated to 4 bytes.
        const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(Buffer.from(context, "utf8"));
        decipher.setAuthTag(Buffer.from(tag, "base64url"));
        return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString(
          "utf8",
        );
      } catch {
        return undefined;
      }
    },
  };
}
