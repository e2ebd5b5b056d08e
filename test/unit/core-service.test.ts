import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { action, defineService, errorFromWire, errorToWire, ShoalError, toShoalError, validateParams, z } from '../../src/core/index.ts';

describe('service definitions', () => {
  it('rejects bad names and versions when declared', () => {
    assert.throws(() => defineService({ name: 'has space', version: 1, actions: {} }), /service name/);
    assert.throws(() => defineService({ name: 'ok', version: 0, actions: {} }), /version must be a positive integer/);
    assert.throws(() => defineService({ name: 'ok', version: 1.5, actions: {} }), /version must be a positive integer/);
    assert.throws(
      () => defineService({ name: 'ok', version: 1, actions: { 'bad-name': action({ params: z.object({}), handler: () => 1 }) } }),
      /action name/,
    );
  });

  it('keeps two versions of one service as distinct definitions', () => {
    const v1 = defineService({ name: 'links', version: 1, actions: {} });
    const v2 = defineService({ name: 'links', version: 2, actions: {} });
    assert.notEqual(v1.version, v2.version);
  });
});

describe('params validation', () => {
  const schema = z.object({ url: z.url(), alias: z.string().max(3).optional(), nested: z.object({ n: z.number() }) });

  it('returns parsed params when valid', () => {
    assert.deepEqual(validateParams(schema, { url: 'https://a.b/c', nested: { n: 1 } }, 'x'), { url: 'https://a.b/c', nested: { n: 1 } });
  });

  it('lists every bad field, by dotted path, with code VALIDATION and status 422', () => {
    try {
      validateParams(schema, { url: 'nope', alias: 'toolong', nested: { n: 'one' } }, 'links.create@2');
      assert.fail('should have thrown');
    } catch (err) {
      assert.ok(err instanceof ShoalError);
      assert.equal(err.code, 'VALIDATION');
      assert.equal(err.httpStatus, 422);
      const fields = (err.details as { fields: Array<{ field: string; message: string }> }).fields;
      assert.deepEqual(fields.map((f) => f.field).sort(), ['alias', 'nested.n', 'url']);
      assert.ok(fields.every((f) => f.message.length > 0));
    }
  });

  it('rejects a non-object params value', () => {
    assert.throws(() => validateParams(schema, 'a string', 'x'), (err: ShoalError) => err.code === 'VALIDATION');
  });
});

describe('errors on the wire', () => {
  it('round-trips code, message and details', () => {
    const back = errorFromWire(errorToWire(new ShoalError('CONFLICT', 'taken', { alias: 'x' })));
    assert.equal(back.code, 'CONFLICT');
    assert.equal(back.message, 'taken');
    assert.deepEqual(back.details, { alias: 'x' });
    assert.equal(back.httpStatus, 409);
  });

  it('turns unknown throws into INTERNAL and malformed wire errors into INTERNAL', () => {
    assert.equal(toShoalError(new TypeError('x')).code, 'INTERNAL');
    assert.equal(toShoalError('str').code, 'INTERNAL');
    assert.equal(errorFromWire({ code: 'NOT_A_CODE', message: 'm' }).code, 'INTERNAL');
    assert.equal(errorFromWire(null).code, 'INTERNAL');
  });

  it('marks only transient failures retryable', () => {
    assert.equal(new ShoalError('UNAVAILABLE', '').retryable, true);
    assert.equal(new ShoalError('TIMEOUT', '').retryable, true);
    assert.equal(new ShoalError('VALIDATION', '').retryable, false);
    assert.equal(new ShoalError('CONFLICT', '').retryable, false);
  });
});
