export * from './errors.ts';
export * from './logger.ts';
export * from './service.ts';
export * from './hooks.ts';
export * from './context.ts';
export * from './validate.ts';
export { z } from 'zod';
export * from './config.ts';
export * from './clock.ts';
