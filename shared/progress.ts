import { z } from 'zod';

/** One epoch of a trial, as the trainer reports it. */
export const EpochProgress = z.object({
  /** With walk-forward folds: which fold is training, of how many (training costs about that many times more). */
  fold: z.number().int().positive().optional(),
  folds: z.number().int().positive().optional(),
  epoch: z.number().int().positive(),
  epochs: z.number().int().positive(),
  loss: z.number(),
  valLoss: z.number(),
  bestValLoss: z.number(),
  lr: z.number(),
  /** Wall-clock seconds of this epoch (training and the validation pass), to plan the remaining time with. */
  seconds: z.number(),
  /** The trial's pace so far and the time left at it, to the epoch limit (`trainingPace`). */
  secondsPerEpoch: z.number(),
  remainingSeconds: z.number(),
});
export type EpochProgress = z.infer<typeof EpochProgress>;

/** One line of `trendcast train --progress json` output: an epoch, whose trial it is, and the kernel's threads. */
export const EpochProgressLine = EpochProgress.extend({
  event: z.literal('epoch'),
  runId: z.string(),
  config: z.string(),
  /** The threads the trainer's LSTM kernel had at the epoch's end. */
  threads: z.number().int().positive().optional(),
});
export type EpochProgressLine = z.infer<typeof EpochProgressLine>;
