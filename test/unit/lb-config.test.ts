import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, configFromFlags, parseConfigText } from '../../src/gateway/proxy/index.ts';

const valid = `listeners:
  - address: 127.0.0.1:8080
    backend: web
backends:
  web:
    algorithm: least-conn
    servers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
        weight: 3
    healthCheck:
      path: /healthz
      interval: 2s
`;

/** The ConfigError thrown for `text`. */
function problemOf(text: string): ConfigError {
  try {
    parseConfigText(text, 'lb.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('the config was accepted');
}

describe('lb config', () => {
  it('accepts a valid file and fills in defaults', () => {
    const config = parseConfigText(valid, 'lb.yaml');
    assert.deepEqual(config.listeners[0].address, { host: '127.0.0.1', port: 8080 });
    const web = config.backends.web;
    assert.equal(web.algorithm, 'least-conn');
    assert.equal(web.servers[1].weight, 3);
    assert.equal(web.healthCheck?.interval, 2000);
    assert.deepEqual(web.healthCheck?.expectStatus, [200, 399]);
    assert.equal(web.retries.max, 2);
    assert.equal(config.listeners[0].limits.maxHeaderBytes, 16 * 1024);
  });

  it('names the line of a bad algorithm', () => {
    const error = problemOf(valid.replace('least-conn', 'fastest'));
    assert.equal(error.problems[0].line, 6);
    assert.match(error.message, /lb\.yaml:6:\d+: backends\.web\.algorithm/);
  });

  it('names the line of an unknown key', () => {
    const error = problemOf(valid.replace('      interval: 2s', '      interval: 2s\n      intervall: 3s'));
    assert.equal(error.problems[0].line, 14);
    assert.match(error.message, /lb\.yaml:14:7: backends\.web\.healthCheck\.intervall: unknown key "intervall"/);
  });

  it('names the line of a bad upstream URL', () => {
    const error = problemOf(valid.replace('http://127.0.0.1:9002', 'ftp://example.com'));
    assert.equal(error.problems[0].line, 9);
    assert.match(error.message, /servers\.1\.url: expected an http:\/\/ URL/);
  });

  it('names the line of a listener pointing at an unknown backend, and of YAML syntax errors', () => {
    assert.equal(problemOf(valid.replace('backend: web', 'backend: api')).problems[0].line, 3);
    assert.equal(problemOf(valid.replace('    servers:', '    servers: [')).problems[0].line !== undefined, true);
  });

  it('builds the same config from flags, and rejects bad flag values', () => {
    const config = configFromFlags({ listen: ['127.0.0.1:0'], upstreams: ['http://127.0.0.1:9001'], algorithm: 'p2c', healthPath: '/up', workers: 2 });
    assert.equal(config.backends.default.algorithm, 'p2c');
    assert.equal(config.backends.default.healthCheck?.path, '/up');
    assert.equal(config.workers, 2);
    assert.throws(() => configFromFlags({ listen: ['nowhere'], upstreams: ['http://127.0.0.1:9001'] }), /listeners\.0\.address/);
  });
});
