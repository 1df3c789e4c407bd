import Testing

/// Every end-to-end suite nests here so that they run one after another: they start real
/// `baton` processes, and on a 2-core machine several at once would distort each other.
@Suite(.serialized) enum EndToEnd {}
