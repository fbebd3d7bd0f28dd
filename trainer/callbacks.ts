// Keras's EarlyStopping(restore_best_weights) and ReduceLROnPlateau, which tfjs lacks. The decisions are pure
// state machines fed one validation loss per epoch; the training loop applies them.

/** Stops after `patience` epochs without a lower val_loss, and remembers the best epoch (whose weights are restored). */
export class EarlyStopping {
  best = Number.POSITIVE_INFINITY;
  bestEpoch = -1;
  private wait = 0;

  constructor(
    readonly patience: number,
    readonly minDelta = 0,
  ) {}

  /** Records an epoch's val_loss; `improved` means its weights are the new best, `stop` that training should end. */
  update(epoch: number, valLoss: number): { improved: boolean; stop: boolean } {
    if (valLoss < this.best - this.minDelta) {
      this.best = valLoss;
      this.bestEpoch = epoch;
      this.wait = 0;
      return { improved: true, stop: false };
    }
    this.wait++;
    return { improved: false, stop: this.wait >= this.patience };
  }
}

/** Multiplies the learning rate by `factor` after `patience` epochs without improvement, never below `minLr`. */
export class ReduceLrOnPlateau {
  private best = Number.POSITIVE_INFINITY;
  private wait = 0;

  constructor(
    readonly factor = 0.5,
    readonly patience = 7,
    readonly minLr = 1e-7,
    /** Keras's default: an improvement must beat the best by 1e-4. */
    readonly minDelta = 1e-4,
  ) {}

  /** Records an epoch's val_loss and returns the learning rate for the next epoch. */
  update(valLoss: number, lr: number): number {
    if (valLoss < this.best - this.minDelta) {
      this.best = valLoss;
      this.wait = 0;
      return lr;
    }
    this.wait++;
    if (this.wait >= this.patience && lr > this.minLr) {
      this.wait = 0;
      return Math.max(lr * this.factor, this.minLr);
    }
    return lr;
  }
}
