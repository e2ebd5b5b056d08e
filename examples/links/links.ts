import { randomBytes } from 'node:crypto';
import { action, defineService, ShoalError, z, type Context } from '../../src/core/index.ts';

/**
 * The URL shortener's links. Until the data layer lands, links live in the cluster's
 * key-value store (the coordinator's): consistent across nodes, meant for small scale only.
 */
export interface StoredLink {
  url: string;
  createdAt: number;
}

const codeAlphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function newCode(): string {
  const bytes = randomBytes(7);
  let code = '';
  for (const byte of bytes) code += codeAlphabet[byte % codeAlphabet.length];
  return code;
}

const url = z.url({ protocol: /^https?$/ }).max(2048);
const code = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - or _ (at most 64)');

/** Stores a link under a code that must be new: compare-and-set on "absent" makes two creators of one alias conflict. */
async function storeLink(ctx: Context, linkCode: string, linkUrl: string): Promise<void> {
  const link: StoredLink = { url: linkUrl, createdAt: Date.now() };
  await ctx.kv.put(`links/${linkCode}`, link, { expectVersion: 0 });
}

async function createWithFreshCode(ctx: Context, linkUrl: string): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const candidate = newCode();
    try {
      await storeLink(ctx, candidate, linkUrl);
      return candidate;
    } catch (err) {
      if (!(err instanceof ShoalError && err.code === 'CONFLICT')) throw err;
    }
  }
  throw new ShoalError('INTERNAL', 'could not find a free code');
}

async function loadLink(ctx: Context, linkCode: string): Promise<StoredLink> {
  const stored = await ctx.kv.get(`links/${linkCode}`);
  if (!stored) throw new ShoalError('NOT_FOUND', `no link with code ${linkCode}`, { code: linkCode });
  return stored.value as StoredLink;
}

export const linksV1 = defineService({
  name: 'links',
  version: 1,
  actions: {
    create: action({
      params: z.object({ url }),
      rest: { method: 'POST', path: '/v1/links' },
      handler: async (ctx, params) => ({ code: await createWithFreshCode(ctx, params.url), url: params.url }),
    }),
    resolve: action({
      params: z.object({ code }),
      idempotent: true,
      rest: { method: 'GET', path: '/v1/links/:code' },
      handler: async (ctx, params) => {
        const link = await loadLink(ctx, params.code);
        await ctx.emit('link.clicked', { code: params.code, at: Date.now() });
        return { url: link.url };
      },
    }),
  },
});

export const linksV2 = defineService({
  name: 'links',
  version: 2,
  actions: {
    create: action({
      params: z.object({ url, alias: code.optional() }),
      rest: { method: 'POST', path: '/v2/links' },
      handler: async (ctx, params) => {
        if (params.alias === undefined) return { code: await createWithFreshCode(ctx, params.url), url: params.url };
        try {
          await storeLink(ctx, params.alias, params.url);
        } catch (err) {
          if (err instanceof ShoalError && err.code === 'CONFLICT') {
            throw new ShoalError('CONFLICT', `alias ${params.alias} is taken`, { alias: params.alias });
          }
          throw err;
        }
        return { code: params.alias, url: params.url };
      },
    }),
    resolve: action({
      params: z.object({ code }),
      idempotent: true,
      rest: { method: 'GET', path: '/v2/links/:code' },
      handler: async (ctx, params) => {
        const link = await loadLink(ctx, params.code);
        await ctx.emit('link.clicked', { code: params.code, at: Date.now() });
        const { clicks } = await ctx.call(analytics, 'clicks', { code: params.code });
        return { url: link.url, clicks };
      },
    }),
  },
});

const clickedEvent = z.object({ code, at: z.number() });

/** Counts clicks from `link.clicked` events; each increment is a compare-and-set so concurrent nodes never lose one. */
export const analytics = defineService({
  name: 'analytics',
  version: 1,
  events: {
    'link.clicked': {
      schema: clickedEvent,
      handler: async (ctx: Context, payload: z.output<typeof clickedEvent>) => {
        const key = `clicks/${payload.code}`;
        for (;;) {
          const current = await ctx.kv.get(key);
          const count = (current?.value as number | undefined) ?? 0;
          try {
            await ctx.kv.put(key, count + 1, { expectVersion: current?.version ?? 0 });
            return;
          } catch (err) {
            if (!(err instanceof ShoalError && err.code === 'CONFLICT')) throw err;
          }
        }
      },
    },
  },
  actions: {
    clicks: action({
      params: z.object({ code }),
      idempotent: true,
      handler: async (ctx, params) => {
        const stored = await ctx.kv.get(`clicks/${params.code}`);
        return { code: params.code, clicks: (stored?.value as number | undefined) ?? 0 };
      },
    }),
  },
});
