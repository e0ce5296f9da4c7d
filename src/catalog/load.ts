/**
 * Reads the catalog file named by CATALOG_FILE. JSON goes through the YAML parser too (YAML 1.2 is
 * a superset of JSON), so every problem in either format is reported as `file:line:col: problem`.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { isNode, LineCounter, parseDocument } from "yaml";
import { buildCatalog, type Catalog, CatalogError, type NodePath } from "../core/catalog.js";

const EXTENSIONS = [".yaml", ".yml", ".json"];

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "";
    const reason =
      code === "ENOENT"
        ? "catalog file not found (check CATALOG_FILE)"
        : code === "EISDIR"
          ? "is a directory, not a catalog file"
          : `cannot read catalog file (${code || String(error)})`;
    throw new CatalogError(file, reason);
  }
}

/** Loads, validates and merges the catalog file with the built-ins; throws CatalogError. */
export function loadCatalogFile(file: string): Catalog {
  const extension = extname(file).toLowerCase();
  if (!EXTENSIONS.includes(extension)) {
    throw new CatalogError(
      file,
      `unsupported catalog file type "${extension}": use ${EXTENSIONS.join(", ")}`,
    );
  }
  const text = readText(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const message = syntaxError.message.split("\n", 1)[0] ?? syntaxError.code;
    throw new CatalogError(file, message, lineCounter.linePos(syntaxError.pos[0]));
  }
  const locate = (path: NodePath) => {
    const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
    return isNode(node) && node.range ? lineCounter.linePos(node.range[0]) : undefined;
  };
  return buildCatalog(doc.toJS({ maxAliasCount: 100 }), { file, locate });
}
