import BatonCore
import Testing

@testable import BatonWorker

@Suite struct FaultInjectionTests {
    @Test func parsesAnOverallRateAndRatesPerKind() throws {
        let faults = try FaultInjection(parsing: "email.send=0.5, 0.1,report=0")
        #expect(faults.rate(for: "email.send") == 0.5)
        #expect(faults.rate(for: "report") == 0)
        #expect(faults.rate(for: "other") == 0.1)
        #expect(faults.strikes("email.send", draw: 0.49))
        #expect(!faults.strikes("email.send", draw: 0.5))
        #expect(!faults.strikes("report", draw: 0))
        #expect(try FaultInjection(parsing: "1").strikes("any", draw: 0.999))
    }

    @Test(arguments: ["", "1.5", "-0.1", "x=abc", "0.1,0.2", "a=0.1,a=0.2", "bad kind=0.1", "nan"])
    func refusesWhatIsNotARate(_ text: String) {
        #expect(throws: BatonError.self) { try FaultInjection(parsing: text) }
    }

    @Test func anInjectedFaultSaysSo() {
        let text = "\(InjectedFault(kind: "k", rate: 0.3))"
        #expect(text.hasPrefix(FaultInjection.marker))
        #expect(text.contains("30"))
    }
}
