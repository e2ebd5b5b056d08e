/**
 * The starter project `shoal init` writes. The files are strings rather than files of their own
 * in src/: they import 'shoal', which only resolves in a project that has the package
 * installed, and tsc here would try to check them against this repository instead.
 */

/** Paths relative to the project directory, and their text. `shoal init` writes none of them over an existing file. */
export const starterFiles: Readonly<Record<string, string>> = {
  'shoal.config.ts': `import { defineConfig } from 'shoal';
import { taskCounts, tasks, tasksService } from './services/tasks.ts';

/** The application \`shoal up\` runs: its services, and the collections of the document store. */
export default defineConfig({
  services: [tasksService],
  collections: [tasks, taskCounts],
});
`,

  'services/tasks.ts': `import { randomUUID } from 'node:crypto';
import { action, defineCollection, defineService, event, ShoalError, z, type CollectionClient } from 'shoal';

export interface Task extends Record<string, unknown> {
  id: string;
  title: string;
  done: boolean;
  createdAt: number;
}

/** Tasks added per day, counted from \`task.added\` events. */
export interface TaskCount extends Record<string, unknown> {
  day: string;
  added: number;
}

/** Partitioned by id: every read and write of one task goes to one shard. */
export const tasks = defineCollection<Task>({
  name: 'tasks',
  key: 'id',
  schema: z.object({ id: z.string(), title: z.string(), done: z.boolean(), createdAt: z.number() }),
  indexes: [{ name: 'by_created', fields: ['createdAt'] }],
});

export const taskCounts = defineCollection<TaskCount>({ name: 'task_counts', key: 'day' });

// Names \`ctx.data.tasks\` and \`ctx.data.task_counts\` for the compiler.
declare module 'shoal' {
  interface DataCollections {
    tasks: CollectionClient<Task>;
    task_counts: CollectionClient<TaskCount>;
  }
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const taskAdded = z.object({ id: z.string(), at: z.number() });

export const tasksService = defineService({
  name: 'tasks',
  version: 1,
  actions: {
    add: action({
      params: z.object({ title: z.string().trim().min(1).max(200) }), // checked before the handler runs: 422 otherwise
      handler: async (ctx, { title }) => {
        const task: Task = { id: randomUUID(), title, done: false, createdAt: Date.now() };
        await ctx.data.tasks.insert(task);
        await ctx.emit('task.added', { id: task.id, at: task.createdAt }); // one instance of each subscriber gets it
        return task;
      },
    }),
    get: action({
      params: z.object({ id: z.string() }),
      idempotent: true, // safe to retry on another node, and served on GET too
      handler: async (ctx, { id }) => {
        const stored = await ctx.data.tasks.get(id);
        if (!stored) throw new ShoalError('NOT_FOUND', \`no task \${id}\`, { id });
        return stored.doc;
      },
    }),
    countToday: action({
      params: z.object({}),
      idempotent: true,
      handler: async (ctx) => {
        const day = dayOf(Date.now());
        const stored = await ctx.data.task_counts.get(day);
        return { day, added: stored?.doc.added ?? 0 };
      },
    }),
  },
  events: {
    'task.added': event({
      schema: taskAdded,
      handler: async (ctx, { at }) => {
        await ctx.data.task_counts.increment(dayOf(at), { added: 1 });
      },
    }),
  },
});
`,

  'test/tasks.test.ts': `import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShoalError } from 'shoal';
import { startTestCluster, type TestCluster } from 'shoal/testing';
import { tasksService } from '../services/tasks.ts';

// A real cluster (control, one node, a gateway) on free ports, in a directory of its own.
let cluster: TestCluster;
before(async () => {
  cluster = await startTestCluster({ config: new URL('../shoal.config.ts', import.meta.url) });
});
after(() => cluster?.stop());

it('adds a task and reads it back', async () => {
  const task = await cluster.call(tasksService, 'add', { title: 'write the docs' });
  assert.equal(task.title, 'write the docs');
  assert.deepEqual(await cluster.call(tasksService, 'get', { id: task.id }), task);
});

it('answers NOT_FOUND for a task that does not exist', async () => {
  await assert.rejects(cluster.call(tasksService, 'get', { id: 'no-such-task' }), (err) => err instanceof ShoalError && err.code === 'NOT_FOUND');
});

it('rejects an empty title before the handler runs', async () => {
  await assert.rejects(cluster.call(tasksService, 'add', { title: ' ' }), (err) => err instanceof ShoalError && err.code === 'VALIDATION');
});

it('counts added tasks from the task.added event', async () => {
  await cluster.call(tasksService, 'add', { title: 'count me' });
  // Events are delivered after the call returns: wait for the count to catch up.
  for (let attempt = 0; ; attempt++) {
    const { added } = await cluster.call(tasksService, 'countToday', {});
    if (added >= 1) break;
    if (attempt === 100) assert.fail('the task.added event was not counted');
    await sleep(100);
  }
});
`,

  'tsconfig.json': `${JSON.stringify(
    {
      compilerOptions: {
        target: 'es2024',
        lib: ['es2024'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        types: ['node'],
        strict: true,
        // Node runs these files as they are (type stripping): nothing is emitted, imports name .ts files,
        // and only syntax that can be erased is allowed.
        noEmit: true,
        allowImportingTsExtensions: true,
        erasableSyntaxOnly: true,
        verbatimModuleSyntax: true,
        isolatedModules: true,
        skipLibCheck: true,
      },
      include: ['shoal.config.ts', 'services', 'test'],
    },
    null,
    2,
  )}\n`,
};

/** Scripts `shoal init` adds to package.json, where the name is free. */
export const starterScripts: Readonly<Record<string, string>> = {
  start: 'shoal up',
  test: 'node --test "test/**/*.test.ts"',
  typecheck: 'tsc --noEmit',
};

/** What the starter's typecheck and test need, added to devDependencies where absent. */
export const starterDevDependencies: Readonly<Record<string, string>> = {
  typescript: '^5.9.0',
  '@types/node': '^24.0.0',
};

/** Lines `shoal init` makes sure .gitignore has. */
export const starterIgnores: readonly string[] = ['node_modules/', '.shoal/'];
