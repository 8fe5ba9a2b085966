// Writes ../protocol/vectors.json: frames made by the real yjs / y-protocols code, so the
// Rust codec is checked against what unmodified JS clients send.
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import { writeFileSync } from 'node:fs'

const hex = (u8) => Buffer.from(u8).toString('hex')
const frame = (write) => { const e = encoding.createEncoder(); write(e); return hex(encoding.toUint8Array(e)) }

const doc = new Y.Doc(); doc.clientID = 42
let update
doc.on('update', (u) => { update = u })
doc.getText('content').insert(0, 'hello')

const adoc = new Y.Doc(); adoc.clientID = 7
const aw = new awarenessProtocol.Awareness(adoc)
aw.setLocalState({ user: { name: 'ada' } })
const awUpdate = awarenessProtocol.encodeAwarenessUpdate(aw, [7])

const vectors = [
  { name: 'sync_step1_empty', kind: 'sync_step1', hex: frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, new Y.Doc()) }), state_vector: {} },
  { name: 'sync_step1_one_client', kind: 'sync_step1', hex: frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc) }), state_vector: { 42: 5 } },
  { name: 'sync_step2_empty', kind: 'sync_step2', hex: frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep2(e, new Y.Doc()) }), text: '' },
  { name: 'update_insert_hello', kind: 'update', hex: frame((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, update) }), text: 'hello' },
  { name: 'awareness_one_state', kind: 'awareness', hex: frame((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, awUpdate) }), client: 7, clock: 1, json: '{"user":{"name":"ada"}}' },
  { name: 'query_awareness', kind: 'query_awareness', hex: frame((e) => encoding.writeVarUint(e, 3)) },
  { name: 'permission_denied', kind: 'permission_denied', hex: frame((e) => { encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, 'read-only') }), reason: 'read-only' },
  { name: 'v2_update_refused', kind: 'error', error: 'invalid_update', hex: frame((e) => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, Y.encodeStateAsUpdateV2(doc)) }) },
  { name: 'truncated_varint', kind: 'error', error: 'malformed', hex: '0002ff' },
  { name: 'truncated_payload', kind: 'error', error: 'malformed', hex: '000205ffff' },
  { name: 'garbage_update', kind: 'error', error: 'invalid_update', hex: '000204ffffffff' },
  { name: 'unknown_sync_type', kind: 'error', error: 'unknown_sync_type', hex: '00090100' },
  { name: 'empty_frame', kind: 'error', error: 'empty', hex: '' },
  { name: 'client_id_over_53_bits', kind: 'error', error: 'client_id_too_large', hex: '00000b0180808080808080800101' },
  { name: 'awareness_client_id_over_53_bits', kind: 'error', error: 'client_id_too_large', hex: '01100180808080808080800101046e756c6c' },
]
aw.destroy()
writeFileSync(new URL('../../protocol/vectors.json', import.meta.url), JSON.stringify({ vectors }, null, 2) + '\n')
console.log(`wrote ${vectors.length} vectors`)
