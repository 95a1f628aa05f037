/**
 * `/api/ledger/*`: the ledger's trust anchor, published so that verifiers can pin it and compare.
 * The key is public by nature (no API key needed); the latest checkpoint is T0.
 */
import { catalog } from '../../../protocols/index.ts';
import { relayService } from '../bus-call.ts';
import { defineRoute } from '../route-def.ts';

export const ledgerKeyRoute = defineRoute({
  method: 'GET',
  url: '/api/ledger/key',
  operationId: 'getLedgerKey',
  summary: "The ledger's checkpoint signing key (public half) and its fingerprint",
  description:
    'No key needed. Asks the ledger writer (ledger.key.v1 → ledger.public-key.v1). Pin `fingerprint` out of band ' +
    '(`agov ledger verify --fingerprint`); the private half lives in Vault transit and never leaves it.',
  tag: 'ledger',
  auth: 'public',
  responses: { 200: { description: 'The public key', schema: catalog['ledger.public-key.v1'] } },
  errors: [503, 504],
  handle({ deps }) {
    return relayService(deps, deps.settings.services.ledgerWriter, { type: 'ledger.key.v1', body: {} }, [
      'ledger.public-key.v1',
    ]);
  },
});

export const ledgerCheckpointRoute = defineRoute({
  method: 'GET',
  url: '/api/ledger/checkpoint',
  operationId: 'getLedgerCheckpoint',
  summary: 'The latest signed checkpoint, with the witness cosignatures the writer holds',
  description:
    'ledger.head.v1 → ledger.checkpoint.v1: origin, size, root, the signed note (C2SP signed-note text), the key ' +
    'fingerprint, and the cosignature lines of the witnesses that vouched for it. 404 before the first checkpoint.',
  tag: 'ledger',
  auth: 'T0',
  responses: { 200: { description: 'The latest checkpoint', schema: catalog['ledger.checkpoint.v1'] } },
  errors: [404, 503, 504],
  handle({ deps }) {
    return relayService(deps, deps.settings.services.ledgerWriter, { type: 'ledger.head.v1', body: {} }, [
      'ledger.checkpoint.v1',
    ]);
  },
});

export const ledgerRoutes = [ledgerKeyRoute, ledgerCheckpointRoute];
