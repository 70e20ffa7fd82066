/** BackupInfo.json: a sound manifest round-trips; a damaged or hostile one is refused with the reason. */
import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  MAX_MANIFEST_BYTES,
  authenticateManifest,
  canonicalJson,
  canonicalManifestBytes,
  checkManifestAuthentication,
  parseManifest,
  serializeManifest,
  type BackupManifest,
  type UnsealedManifest,
} from '../../src/archive/manifest.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { unsealedManifest } from './manifestFixtures.js';

const BACKUP_ID = '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b';
const SOURCE = 'MASBackup/20261126T120000Z/3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b/BackupInfo.json';

const BACKUP_KEY = randomBytes(32);

/** A sound manifest of this format version, authenticated with BACKUP_KEY. */
function sound(): BackupManifest {
  return authenticateManifest(unsealed(), BACKUP_KEY);
}

function unsealed(): UnsealedManifest {
  return unsealedManifest(BACKUP_ID, {
    RoleStatus: [
      { RoleName: 'Domain', Status: 'Succeeded', ErrorMessage: null },
      { RoleName: 'ECE', Status: 'Succeeded', ErrorMessage: null },
    ],
    TimeTakenToCreate: 'PT1M2.5S',
    BackupSizeInKb: 2048,
    CompressedBackupSizeInKb: 512,
    Roles: [
      {
        Registration: {
          Name: 'Domain',
          Provider: 'Sqlite',
          Path: '/var/lib/identity/domain.db',
          BackupScript: null,
          RestoreScript: null,
          RegisteredTime: '2026-11-01T08:00:00.000Z',
        },
        Files: [
          {
            Path: 'Domain/Domain.azsb',
            Size: 123_456,
            Sha256: 'ab'.repeat(32),
            FileId: `${BACKUP_ID}/Domain`,
          },
        ],
        Entries: 1,
        SourceBytes: 1_048_576,
      },
      {
        Registration: {
          Name: 'ECE',
          Provider: 'PowerShell',
          Path: null,
          BackupScript: 'param($Staging) Copy-Item /etc/ece $Staging',
          RestoreScript: 'param($Staging) Copy-Item $Staging/* /etc/ece',
          RegisteredTime: '2026-11-01T08:00:00.000Z',
        },
        Files: [{ Path: 'ECE/ECE.azsb', Size: 0, Sha256: 'CD'.repeat(32), FileId: `${BACKUP_ID}/ECE` }],
        Entries: 0,
        SourceBytes: 0,
      },
    ],
  });
}

function refused(text: string, expected: RegExp): void {
  assert.throws(
    () => parseManifest(text, SOURCE),
    (error: unknown) => {
      assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
      assert.equal(error.target, SOURCE);
      assert.match(error.message, expected);
      return true;
    },
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- these tests break the typed shape on purpose
type Untyped = Record<string, any>;

/** A sound manifest with one change applied. */
function changed(change: (manifest: Untyped) => void): string {
  const manifest = sound() as unknown as Untyped;
  change(manifest);
  return JSON.stringify(manifest);
}

describe('backup manifest', () => {
  it('round-trips a sound manifest', () => {
    const manifest = sound();
    const text = serializeManifest(manifest);
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(parseManifest(text, SOURCE), manifest);
  });

  it('still reads manifests of format versions 1 and 2, which have no Authentication', () => {
    for (const version of [1, 2]) {
      const manifest = parseManifest(
        changed((m) => {
          m.FormatVersion = version;
          delete m.Authentication;
        }),
        SOURCE,
      );
      assert.equal(manifest.FormatVersion, version);
      assert.equal(checkManifestAuthentication(manifest, BACKUP_KEY, SOURCE), false, 'unauthenticated');
    }
  });

  it('refuses a manifest of format version 3 without Authentication', () => {
    refused(
      changed((m) => delete m.Authentication),
      /Authentication is missing/,
    );
    refused(
      changed((m) => (m.Authentication.Mac = 'AB'.repeat(32))),
      /Authentication\.Mac/,
    );
  });

  it('refuses a FileId other than <BackupId>/<RoleName>, in every format version', () => {
    for (const version of [1, 2, 3]) {
      for (const fileId of [
        'Domain/Domain.azsb',
        `${BACKUP_ID}/ECE`,
        `00000000-0000-4000-8000-000000000000/Domain`,
      ])
        refused(
          changed((m) => {
            m.FormatVersion = version;
            m.Roles[0].Files[0].FileId = fileId;
          }),
          /FileId/,
        );
    }
  });

  it('refuses a manifest longer than a manifest can be, before parsing it', () => {
    refused(' '.repeat(MAX_MANIFEST_BYTES + 1), /more than \d+ bytes/);
  });

  it('refuses text that is not a JSON object', () => {
    refused('{"BackupId":', /not JSON/);
    refused('[]', /not a JSON object/);
    refused('null', /not a JSON object/);
  });

  it("reads format 4: an epoch, no role files, each stored role's content; its MAC is bound to the backup id", () => {
    const epoch = 'ab'.repeat(16);
    const version4 = (change: (manifest: Untyped) => void = () => undefined): Untyped => {
      const manifest = unsealed() as unknown as Untyped;
      manifest.FormatVersion = 4;
      delete manifest.Encryption.BlockSize;
      manifest.Encryption.Epoch = epoch;
      for (const role of manifest.Roles) {
        role.Files = [];
        role.Content = { List: 'cd'.repeat(32), Chunks: 3, Packs: ['ef'.repeat(32)], AddedBytes: 10 };
      }
      change(manifest);
      return authenticateManifest(manifest as unknown as UnsealedManifest, BACKUP_KEY) as unknown as Untyped;
    };
    const parsed = parseManifest(JSON.stringify(version4()), SOURCE);
    assert.equal(checkManifestAuthentication(parsed, BACKUP_KEY, SOURCE), true);
    // The epoch's key is every backup's key: a MAC must not carry over to another backup id.
    const moved = { ...parsed, BackupId: BACKUP_ID.replace(/^./, '0') };
    moved.Name = `${moved.Location}/${moved.BackupId}`;
    assert.throws(() => checkManifestAuthentication(moved, BACKUP_KEY, SOURCE), /does not authenticate/);
    refused(JSON.stringify(version4((m) => delete m.Encryption.Epoch)), /Epoch is missing/);
    refused(
      JSON.stringify(version4((m) => (m.Roles[0].Files = sound().Roles[0]!.Files))),
      /lists files, and format 4 stores none/,
    );
    refused(
      changed((m) => (m.Roles[0].Content = version4().Roles[0].Content)),
      /Content, which only format 4 has/,
    );
    refused(
      changed((m) => delete m.Encryption.BlockSize),
      /BlockSize is missing/,
    );
  });

  it('refuses a format version it does not know, saying which ones it reads', () => {
    refused(
      changed((m) => (m.FormatVersion = 5)),
      /format version 5.*reads versions 1 to 4/,
    );
    refused(
      changed((m) => (m.FormatVersion = 0)),
      /format version 0.*reads versions 1 to 4/,
    );
    refused(
      changed((m) => delete m.FormatVersion),
      /FormatVersion/,
    );
  });

  it('refuses a manifest with a field missing or of the wrong type', () => {
    refused(
      changed((m) => delete m.BackupId),
      /BackupId/,
    );
    refused(
      changed((m) => delete m.Encryption.WrappedKey),
      /WrappedKey/,
    );
    refused(
      changed((m) => delete m.Roles[0].Files[0].Sha256),
      /Sha256/,
    );
    refused(
      changed((m) => (m.Roles[0].Registration.Provider = 'Tape')),
      /Provider/,
    );
    refused(
      changed((m) => (m.Compression = 'gzip')),
      /Compression/,
    );
    refused(
      changed((m) => (m.Encryption.Algorithm = 'AES-128-CBC')),
      /Algorithm/,
    );
    refused(
      changed((m) => (m.CreatedDateTime = 'yesterday')),
      /CreatedDateTime/,
    );
  });

  it('refuses a wrapped key that is not base64 or not an RSA ciphertext', () => {
    refused(
      changed((m) => (m.Encryption.WrappedKey = 'not base64!')),
      /not base64/,
    );
    refused(
      changed((m) => (m.Encryption.WrappedKey = randomBytes(16).toString('base64'))),
      /16 bytes/,
    );
  });

  it('refuses stored files outside the backup folder or outside their role folder', () => {
    const hostile = [
      '../Domain.azsb',
      '/etc/passwd',
      'Domain/../../etc/passwd',
      'Domain/../ECE/ECE.azsb',
      'ECE/ECE.azsb',
      'Domain',
      'Domain/',
      'Domain//x.azsb',
      'Domain\\..\\..\\x',
      'BackupInfo.json',
      'Domain/a\u0000b',
      'C:/Domain/x',
    ];
    for (const path of hostile)
      refused(
        changed((m) => (m.Roles[0].Files[0].Path = path)),
        /file '/,
      );
  });

  it('refuses role names that are not one folder name', () => {
    for (const name of ['..', '.', '', 'a/b', 'a\\b', 'C:']) {
      refused(
        changed((m) => {
          m.Roles[0].Registration.Name = name;
          m.Roles[0].Files[0].Path = `${name}/x.azsb`;
        }),
        /role name|Name/,
      );
    }
  });

  it('refuses absurd sizes and hashes that are not hex', () => {
    for (const size of [-1, 2 ** 53, 1.5, '12', null]) {
      refused(
        changed((m) => (m.Roles[0].Files[0].Size = size)),
        /Size/,
      );
    }
    refused(
      changed((m) => (m.Roles[0].SourceBytes = 2 ** 60)),
      /SourceBytes/,
    );
    for (const hash of ['xyz', 'ab'.repeat(31), 'g'.repeat(64), 'ab'.repeat(33)]) {
      refused(
        changed((m) => (m.Roles[0].Files[0].Sha256 = hash)),
        /Sha256/,
      );
    }
    refused(
      changed((m) => (m.Encryption.BlockSize = 0)),
      /BlockSize/,
    );
    refused(
      changed((m) => (m.Encryption.BlockSize = 2 ** 40)),
      /BlockSize/,
    );
  });

  it('refuses identities that do not agree', () => {
    refused(
      changed((m) => (m.BackupId = m.BackupId.toUpperCase())),
      /BackupId/,
    );
    refused(
      changed((m) => (m.BackupId = '../../x')),
      /BackupId/,
    );
    refused(
      changed((m) => (m.Name = 'elsewhere/x')),
      /Name/,
    );
    refused(
      changed((m) => (m.Location = '../up')),
      /Location/,
    );
    refused(
      changed((m) => (m.Encryption.CertificateThumbprint = 'XYZ')),
      /CertificateThumbprint/,
    );
    refused(
      changed((m) => (m.EncryptionCertThumbprint = 'B'.repeat(40))),
      /EncryptionCertThumbprint/,
    );
  });

  it('refuses a role or a stored file listed twice', () => {
    refused(
      changed((m) => m.Roles.push(m.Roles[0])),
      /twice/,
    );
    refused(
      changed((m) => m.Roles[0].Files.push({ ...m.Roles[0].Files[0] })),
      /twice/,
    );
    refused(
      changed((m) => m.Roles[0].Files.push({ ...m.Roles[0].Files[0], Path: 'Domain/b.azsb' })),
      /FileId.*twice/,
    );
  });

  it('will not write a manifest of this version without Authentication', () => {
    assert.throws(() => serializeManifest(unsealed() as BackupManifest), /Authentication is missing/);
  });

  it('will not write an invalid manifest', () => {
    const manifest = sound();
    manifest.Roles[0]!.Files[0]!.Path = '../escape';
    assert.throws(() => serializeManifest(manifest), /invalid backup manifest/);
  });
});

describe('manifest authentication (format 3)', () => {
  const check = (manifest: BackupManifest, key = BACKUP_KEY) =>
    checkManifestAuthentication(manifest, key, SOURCE);

  function tamperedRefused(change: (manifest: Untyped) => void): void {
    const manifest = parseManifest(changed(change), SOURCE);
    assert.throws(
      () => check(manifest),
      (error: unknown) => {
        assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
        assert.match(error.message, /does not authenticate with the backup's key/);
        return true;
      },
    );
  }

  it('a manifest as written authenticates, after any re-formatting of its JSON', () => {
    const text = serializeManifest(sound());
    assert.equal(check(parseManifest(text, SOURCE)), true);
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(text)).reverse()));
    assert.equal(check(parseManifest(reordered, SOURCE)), true);
  });

  it('fails with another backup key', () => {
    assert.throws(() => check(sound(), randomBytes(32)), /does not authenticate/);
  });

  it('covers every field a restore acts on', () => {
    const tampering: Array<(m: Untyped) => void> = [
      (m) => (m.Roles[1].Registration.RestoreScript = 'Invoke-Evil'),
      (m) => (m.Roles[1].Registration.BackupScript += ';'),
      (m) => (m.Roles[0].Registration.Path = '/etc'),
      (m) => (m.Roles[0].Registration.Provider = 'Directory'),
      (m) => (m.Roles[0].Registration.RegisteredTime = '2026-11-02T08:00:00.000Z'),
      (m) => {
        m.Roles.push(structuredClone(m.Roles[1]));
        m.Roles[2].Registration.Name = 'Planted';
        m.Roles[2].Files = [];
      },
      (m) => m.Roles.pop(),
      (m) => (m.Roles[0].Files[0].Path = 'Domain/other.azsb'),
      (m) => (m.Roles[0].Files[0].Size += 1),
      (m) => (m.Roles[0].Files[0].Sha256 = 'cd'.repeat(32)),
      (m) => (m.Roles[0].Entries = 2),
      (m) => (m.Roles[0].SourceBytes = 1),
      (m) => (m.Roles[0].ChangedDuringCopy = ['a']),
      (m) => (m.CreatedDateTime = '2026-11-27T12:00:00.000Z'),
      (m) => (m.Status = 'PartialSucceeded'),
      (m) => (m.IsCloudRecoveryReady = false),
      (m) => (m.DeploymentId = '1a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'),
      (m) => (m.Encryption.WrappedKey = randomBytes(384).toString('base64')),
      (m) => (m.Encryption.BlockSize = 1024 * 1024),
      (m) => (m.Unknown = 'a field this version does not read is covered too'),
    ];
    for (const change of tampering) tamperedRefused(change);
  });

  it('canonical JSON: keys sorted by code unit at every level, no whitespace, JSON.stringify forms', () => {
    assert.equal(
      canonicalJson({
        b: [{ z: 1, a: 'é\n' }, null, 1.5e21],
        a: true,
        B: { y: null, x: -0.5 },
        skipped: undefined,
      }),
      '{"B":{"x":-0.5,"y":null},"a":true,"b":[{"a":"é\\n","z":1},null,1.5e+21]}',
    );
    assert.equal(canonicalJson({ '\u00e9': 1, z: 2, '\ud83d\ude00': 3 }), '{"z":2,"é":1,"😀":3}');
  });

  it('is HMAC-SHA256 of the canonical JSON under HKDF-SHA256(backup key, "", "AzureStackBackup manifest key v3")', () => {
    const manifest = sound();
    const manifestKey = Buffer.from(
      hkdfSync('sha256', BACKUP_KEY, Buffer.alloc(0), 'AzureStackBackup manifest key v3', 32),
    );
    const { Authentication, ...rest } = manifest;
    const expected = createHmac('sha256', manifestKey).update(canonicalJson(rest)).digest('hex');
    assert.deepEqual(Authentication, { Algorithm: 'HMAC-SHA256', Mac: expected });
    assert.deepEqual(canonicalManifestBytes(manifest), Buffer.from(canonicalJson(rest)));
  });
});
