# Set-AzsBackupConfiguration's parameters as the config.set request.

function Get-AzsConfigurationChange {
    <# The config.set params: the piped BackupLocation's non-null values, overridden by bound parameters. #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $BoundParameters
    )

    $change = [ordered]@{}
    if (($BoundParameters.Keys -contains 'Backup') -and $null -ne $BoundParameters['Backup']) {
        $location = $BoundParameters['Backup']
        if (-not $location.PSObject.Properties['Path']) {
            $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'InvalidParameter' -Parameter 'Backup' -Target $location -Message (
                        '-Backup takes a BackupLocation (an object with Path, UserName, BackupFrequencyInHours… properties), ' +
                        'such as the one Get-AzsBackupConfiguration returns.')))
        }
        $pipedTypes = [ordered]@{
            Path = [string]; UserName = [string]; RequireEncryption = [bool]; BackupFrequencyInHours = [int]
            BackupRetentionPeriodInDays = [int]; IsBackupSchedulerEnabled = [bool]; MetricsPath = [string]
        }
        foreach ($name in $pipedTypes.Keys) {
            $value = Get-AzsProperty -InputObject $location -Name $name
            if ($null -ne $value) { $change[$name] = $value -as $pipedTypes[$name] }
        }
        if ($change.Contains('Path')) { $change.Path = Resolve-AzsPath -Cmdlet $Cmdlet -Path $change.Path }
    }
    foreach ($name in @('Path', 'UserName', 'Password', 'EncryptionCertPath', 'BackupFrequencyInHours', 'BackupRetentionPeriodInDays', 'MetricsPath')) {
        if (($BoundParameters.Keys -contains $name)) { $change[$name] = $BoundParameters[$name] }
    }
    foreach ($name in @('IsBackupSchedulerEnabled', 'RequireEncryption')) {
        if (($BoundParameters.Keys -contains $name)) { $change[$name] = [bool]$BoundParameters[$name].IsPresent }
    }
    if (($BoundParameters.Keys -contains 'Credential')) {
        $change.UserName = $BoundParameters['Credential'].UserName
        $change.Password = $BoundParameters['Credential'].Password
    }
    $change
}
