import { MetaGraphClient } from '../src/meta/meta.client.js'

/** Where the fake Meta listens and what it expects: the part of a child's spec naming it. */
export interface FakeMetaSpec {
  graphApiUrl: string
  apiVersion: string
  accessToken: string
  phoneNumberId: string
}

/** The service's own Meta client, pointed at the fake Meta (for the send path's baselines). */
export function fakeMetaClient(spec: FakeMetaSpec): MetaGraphClient {
  return new MetaGraphClient({
    graphApiUrl: spec.graphApiUrl,
    apiVersion: spec.apiVersion,
    accessToken: spec.accessToken,
    phoneNumberId: spec.phoneNumberId,
    businessAccountId: '0',
    timeoutMs: 15_000,
  })
}
