// The REST client's types are what the server's OpenAPI document says today.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generate, committed } from '../scripts/schema.mjs'

test('src/schema.d.ts is generated from the OpenAPI document the server serves now', async () => {
  const fresh = await generate()
  assert.ok(fresh === committed(), 'client-js/src/schema.d.ts is stale: run `npm run schema` in client-js/')
})
