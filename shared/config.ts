import { z } from 'zod';

/** One hyperparameter configuration: one trial, one training job. */
export const TrainingConfig = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'letters, digits, "_" and "-" only, at most 63 characters'),
    lstmUnits: z.tuple([
      z.number().int().min(1).max(2048),
      z.number().int().min(1).max(2048),
      z.number().int().min(1).max(2048),
    ]),
    dropout: z.number().min(0).lt(1),
    learningRate: z.number().positive().max(1),
    batchSize: z.number().int().min(1).max(4096),
    epochs: z.number().int().min(1).max(10_000),
    /** EarlyStopping patience on val_loss, in epochs. */
    patience: z.number().int().min(1).optional(),
  })
  .strict();
export type TrainingConfig = z.infer<typeof TrainingConfig>;

/** A grid: the configs one uploaded CSV is trained with, and the promotion gate. */
export const Grid = z
  .object({
    configs: z.array(TrainingConfig).min(1),
    /** When true (the default) a trial is promoted only if it is not degenerate and beats the majority-class baseline. */
    gate: z.boolean().default(true),
    /** Seed for repeatable training; the same seed on the same backend gives the same metrics. */
    seed: z.number().int().min(0).optional(),
  })
  .strict()
  .superRefine((grid, ctx) => {
    const seen = new Set<string>();
    grid.configs.forEach((c, i) => {
      if (seen.has(c.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['configs', i, 'name'],
          message: `duplicate config name "${c.name}"`,
        });
      }
      seen.add(c.name);
    });
  });
export type Grid = z.infer<typeof Grid>;

/**
 * The three configurations of the reference pipeline: the default grid. It carries a seed so the same CSV gets the
 * same decision on every run (on one backend); a grid of your own may omit it for a fresh draw each time.
 */
export const DEFAULT_GRID: Grid = {
  gate: true,
  seed: 42,
  configs: [
    {
      name: 'config_1_baseline',
      lstmUnits: [128, 64, 32],
      dropout: 0.3,
      learningRate: 0.001,
      batchSize: 16,
      epochs: 150,
    },
    {
      name: 'config_2_deeper',
      lstmUnits: [256, 128, 64],
      dropout: 0.4,
      learningRate: 0.0005,
      batchSize: 16,
      epochs: 150,
    },
    {
      name: 'config_3_wider',
      lstmUnits: [192, 96, 48],
      dropout: 0.35,
      learningRate: 0.0008,
      batchSize: 8,
      epochs: 150,
    },
  ],
};

export const DEFAULT_PATIENCE = 15;
