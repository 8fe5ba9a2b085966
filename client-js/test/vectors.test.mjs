// The shared protocol vectors, decoded with the real y-protocols code: the same file the
// Rust codec tests read.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'

const { vectors } = JSON.parse(readFileSync(new URL('../../protocol/vectors.json', import.meta.url)))
const bytes = (hex) => Uint8Array.from(Buffer.from(hex, 'hex'))

test('every valid vector decodes with y-protocols as described', () => {
  let checked = 0
  for (const v of vectors) {
    if (v.kind === 'error') continue
    const dec = decoding.createDecoder(bytes(v.hex))
    const type = decoding.readVarUint(dec)
    if (v.kind === 'sync_step1' || v.kind === 'sync_step2' || v.kind === 'update') {
      assert.equal(type, 0, v.name)
      const doc = new Y.Doc()
      const reply = encoding.createEncoder()
      syncProtocol.readSyncMessage(dec, reply, doc, null)
      if (v.text !== undefined) assert.equal(doc.getText('content').toString(), v.text, v.name)
    } else if (v.kind === 'awareness') {
      assert.equal(type, 1, v.name)
      const aw = new awarenessProtocol.Awareness(new Y.Doc())
      awarenessProtocol.applyAwarenessUpdate(aw, decoding.readVarUint8Array(dec), null)
      assert.deepEqual(aw.getStates().get(v.client), JSON.parse(v.json), v.name)
      aw.destroy()
    } else if (v.kind === 'query_awareness') {
      assert.equal(type, 3, v.name)
    } else if (v.kind === 'permission_denied') {
      assert.equal(type, 2, v.name)
      assert.equal(decoding.readVarUint(dec), 0, v.name)
      assert.equal(decoding.readVarString(dec), v.reason, v.name)
    } else {
      assert.fail(`unknown kind ${v.kind}`)
    }
    checked++
  }
  assert.ok(checked >= 7, `checked ${checked}`)
})
