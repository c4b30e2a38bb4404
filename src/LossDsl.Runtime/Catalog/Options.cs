namespace LossDsl;

/// <summary>How a region loss (Dice family, Tversky) turns the prediction into probabilities.</summary>
public enum Activation
{
    /// <summary>An independent sigmoid per channel (binary or multilabel).</summary>
    Sigmoid,

    /// <summary>Softmax over the class axis (multiclass).</summary>
    Softmax,

    /// <summary>The prediction already holds probabilities.</summary>
    None,
}

/// <summary>How the generalized Dice loss weighs each class from its target volume Σt.</summary>
public enum DiceWeightType
{
    /// <summary>w = 1 / (Σt)² (Sudre et al.).</summary>
    Square,

    /// <summary>w = 1 / Σt.</summary>
    Simple,

    /// <summary>w = 1 (plain multiclass Dice pooled over classes).</summary>
    Uniform,
}
