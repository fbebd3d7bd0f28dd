import { z } from 'zod';
import { DEFAULT_COST_BPS, DEFAULT_THRESHOLD } from './backtest.ts';
import { InputError } from './errors.ts';
import type { Settings } from './settings.ts';
import { DEFAULT_ALPHA } from './significance.ts';

/**
 * Most epochs × walk-forward folds one config may ask for: the default grid is 150 × 1; this admits it with 20 folds,
 * and refuses the 10,000 epochs × 20 folds that once asked for weeks of GPU time per config.
 */
export const MAX_EPOCH_PASSES = 3000;

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

/** How a grid's trials are judged: the significance level of the gate and the backtest's rules. */
export const Evaluation = z
  .object({
    /** The gate promotes only a trial whose p-value against the majority-class baseline is below this. */
    alpha: z.number().gt(0).max(1).default(DEFAULT_ALPHA),
    /** Long when P(up) is at least this (also the forecast's up/down line). */
    threshold: z.number().gt(0).lt(1).default(DEFAULT_THRESHOLD),
    /** Cost per unit of position change, in basis points. */
    costBps: z.number().min(0).max(10_000).default(DEFAULT_COST_BPS),
    /** Short (−1) below the threshold instead of flat. */
    allowShort: z.boolean().default(false),
    /**
     * Walk-forward folds: k consecutive test blocks of the validation size, each predicted by a model trained on every
     * window before it (scaler refitted on that part); the metrics pool every block. 1 is the single split. Training
     * costs about k times as much.
     */
    folds: z.number().int().min(1).max(20).default(1),
  })
  .strict();
export type Evaluation = z.infer<typeof Evaluation>;
export const DEFAULT_EVALUATION: Evaluation = Evaluation.parse({});

/** A grid: the configs one uploaded CSV is trained with, and the promotion gate. */
export const Grid = z
  .object({
    configs: z.array(TrainingConfig).min(1),
    /**
     * When true (the default) a trial is promoted only if it is not degenerate, beats the majority-class baseline and
     * is distinguishable from it (p-value below `evaluation.alpha`).
     */
    gate: z.boolean().default(true),
    evaluation: Evaluation.prefault({}),
    /** Seed for repeatable training; the same seed on the same backend gives the same metrics. */
    seed: z.number().int().min(0).optional(),
  })
  .strict()
  .superRefine((grid, ctx) => {
    const seen = new Set<string>();
    grid.configs.forEach((c, i) => {
      if (c.patience !== undefined && c.patience > c.epochs)
        ctx.addIssue({
          code: 'custom',
          path: ['configs', i, 'patience'],
          message: `patience ${c.patience} is more than the config's ${c.epochs} epochs`,
        });
      const passes = c.epochs * grid.evaluation.folds;
      if (passes > MAX_EPOCH_PASSES)
        ctx.addIssue({
          code: 'custom',
          path: ['configs', i, 'epochs'],
          message: `${c.epochs} epochs × ${grid.evaluation.folds} folds is ${passes} epoch passes, over the limit of ${MAX_EPOCH_PASSES}: fewer epochs or folds`,
        });
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
/** A grid as written in a file: `evaluation` and `gate` may be left out. */
export type GridInput = z.input<typeof Grid>;

/**
 * The three configurations of the reference pipeline: the default grid. It carries a seed so the same CSV gets the
 * same decision on every run (on one backend); a grid of your own may omit it for a fresh draw each time.
 */
export const DEFAULT_GRID: Grid = {
  gate: true,
  seed: 42,
  evaluation: DEFAULT_EVALUATION,
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

/**
 * Refuses a grid the deployment does not allow: more configs than TRENDCAST_MAX_CONFIGS, or the promotion gate off
 * where TRENDCAST_ALLOW_GATE_OFF is not set. `where` names the grid's file. Returns why the gate is off, when it is.
 */
export function checkGridAllowed(
  grid: Grid,
  settings: Pick<Settings, 'TRENDCAST_MAX_CONFIGS' | 'TRENDCAST_ALLOW_GATE_OFF'>,
  where: string,
): { gateOff: string | null } {
  if (grid.configs.length > settings.TRENDCAST_MAX_CONFIGS)
    throw new InputError(
      `${where}: ${grid.configs.length} configs, over the limit of ${settings.TRENDCAST_MAX_CONFIGS} (TRENDCAST_MAX_CONFIGS); split the grid or drop configs`,
    );
  if (grid.gate) return { gateOff: null };
  if (!settings.TRENDCAST_ALLOW_GATE_OFF)
    throw new InputError(
      `${where}: "gate": false is not allowed in this deployment (TRENDCAST_ALLOW_GATE_OFF is off); remove it, or ask the operator to allow it`,
    );
  return { gateOff: `${where} sets "gate": false, allowed by TRENDCAST_ALLOW_GATE_OFF` };
}
