namespace LossDsl;

/// <summary>How a region loss turns its input into probabilities.</summary>
public enum Activation
{
    /// <summary>Independent sigmoid per channel (binary and multilabel).</summary>
    Sigmoid,

    /// <summary>Softmax over the class axis (mutually exclusive classes).</summary>
    Softmax,

    /// <summary>The input already holds probabilities.</summary>
    None,
}

/// <summary>The class weighting of the generalized Dice loss (Sudre et al.).</summary>
public enum DiceWeightType
{
    /// <summary>w = 1 / (Σ target)², the original proposal.</summary>
    Square,

    /// <summary>w = 1 / Σ target.</summary>
    Simple,

    /// <summary>w = 1: plain Dice over the pooled classes.</summary>
    Uniform,
}
