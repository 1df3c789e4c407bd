/// Baton's version, as `baton --version` prints it and workers announce it.
public enum BatonVersion {
    public static let current = "0.5.0"
}
