# Tab completion for backup ids, role names and notification target names, asked of the running daemon. A Tab press must never
# throw, hang or start anything: the completers ask only a daemon that already runs, give up after
# $script:AzsCompletionTimeoutMilliseconds in all, and complete nothing on any failure.

$script:AzsCompletionTimeoutMilliseconds = 3000

function Find-AzsCompletionEndpoint {
    <#
    The endpoint of the state folder's daemon if one is known or running, else $null. Asks
    `azsbackup status --json` (which starts nothing) when no cmdlet has found the daemon yet.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [datetime] $Deadline)

    $stateDirectory = Get-AzsStateDirectory
    $known = Get-AzsKnownEndpoint -StateDirectory $stateDirectory
    if ($known) { return $known }
    $status = Invoke-AzsCliBefore -Deadline $Deadline -Arguments @('status', '--json', '--state-dir', $stateDirectory)
    if (-not $status -or -not (Get-AzsProperty -InputObject $status -Name 'running')) { return $null }
    @{ Socket = [string]$status.socket; TokenFile = Join-Path $stateDirectory 'token' }
}

function Invoke-AzsCliBefore {
    <# Runs the CLI with its output captured and parses its JSON line; $null when it fails or is not done by Deadline (then it is killed). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [datetime] $Deadline, [Parameter(Mandatory)] [string[]] $Arguments)

    $node = Get-Command -Name 'node' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $node -or -not (Test-Path -LiteralPath $script:AzsCliPath -PathType Leaf)) { return $null }
    $start = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $start.FileName = $node.Source
    # ProcessStartInfo.ArgumentList is missing on Windows PowerShell's .NET Framework: quote by hand.
    $start.Arguments = (@($script:AzsCliPath) + $Arguments | ForEach-Object { '"' + ($_ -replace '"', '\"') + '"' }) -join ' '
    $start.UseShellExecute = $false
    $start.CreateNoWindow = $true
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($start)
    try {
        $output = $process.StandardOutput.ReadToEndAsync()
        $null = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit((Get-AzsMillisecondsLeft -Deadline $Deadline))) {
            $process.Kill()
            return $null
        }
        $lines = @($output.Result -split "`n" | Where-Object { $_.Trim() })
        if ($lines.Count -eq 0) { return $null }
        ConvertFrom-AzsJson -Json $lines[-1]
    } finally {
        $process.Dispose()
    }
}

function Get-AzsMillisecondsLeft {
    [CmdletBinding()]
    [OutputType([int])]
    param([Parameter(Mandatory)] [datetime] $Deadline)

    [int][System.Math]::Max(0, ($Deadline - [datetime]::UtcNow).TotalMilliseconds)
}

function Read-AzsReplyBefore {
    <# The response with the given id, or $null when the connection closes or Deadline passes first. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [hashtable] $Connection,
        [Parameter(Mandatory)] [long] $Id,
        [Parameter(Mandatory)] [datetime] $Deadline
    )

    while ($true) {
        $pending = $Connection.Reader.ReadLineAsync()
        if (-not $pending.Wait((Get-AzsMillisecondsLeft -Deadline $Deadline))) { return $null }
        $line = $pending.Result
        if ($null -eq $line) { return $null }
        if (-not $line.Trim()) { continue }
        $message = ConvertFrom-AzsJson -Json $line
        if ((Get-AzsProperty -InputObject $message -Name 'id') -eq $Id) { return $message }
    }
}

function Invoke-AzsCompletionRequest {
    <#
    Calls Method on the running daemon within the completion time budget and returns its result,
    or $null on any failure: no daemon, refused token, an error answer, a timeout.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Method, [System.Collections.IDictionary] $Params = @{})

    $deadline = [datetime]::UtcNow.AddMilliseconds($script:AzsCompletionTimeoutMilliseconds)
    $connection = $null
    try {
        $endpoint = Find-AzsCompletionEndpoint -Deadline $deadline
        if (-not $endpoint) { return $null }
        $connection = New-AzsConnection -Endpoint $endpoint.Socket
        $requests = @(
            @{ Method = 'session.authenticate'; Params = @{ token = [System.IO.File]::ReadAllText($endpoint.TokenFile).Trim() } }
            @{ Method = $Method; Params = $Params }
        )
        $reply = $null
        for ($id = 1; $id -le $requests.Count; $id++) {
            $request = $requests[$id - 1]
            $connection.Writer.WriteLine((ConvertTo-AzsRequestJson -Id $id -Method $request.Method -Params $request.Params))
            $connection.Writer.Flush()
            $reply = Read-AzsReplyBefore -Connection $connection -Id $id -Deadline $deadline
            if (-not $reply -or (Get-AzsProperty -InputObject $reply -Name 'error')) { return $null }
        }
        Get-AzsProperty -InputObject $reply -Name 'result'
    } catch {
        Write-Verbose "No completions from the daemon: $($_.Exception.GetBaseException().Message)"
        $null
    } finally {
        Close-AzsConnection -Connection $connection
    }
}

function New-AzsCompletionResult {
    <# A ParameterValue completion, single-quoted when the text needs quotes. #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.CompletionResult])]
    param([Parameter(Mandatory)] [string] $Text, [string] $ToolTip)

    $completion = $Text
    if ($Text -match '[\s''"`$;,(){}|&<>@#]') { $completion = "'" + ($Text -replace "'", "''") + "'" }
    if (-not $ToolTip) { $ToolTip = $Text }
    New-Object -TypeName System.Management.Automation.CompletionResult -ArgumentList $completion, $Text, 'ParameterValue', $ToolTip
}

function Select-AzsCompletion {
    <# The candidates ({ Text; ToolTip }) that start with the word typed so far (quotes ignored), as completion results. #>
    [CmdletBinding()]
    param([AllowNull()] [object[]] $Candidate, [AllowEmptyString()] [string] $WordToComplete)

    $prefix = $WordToComplete.Trim('''', '"')
    foreach ($entry in @($Candidate)) {
        if ($null -eq $entry -or -not $entry.Text) { continue }
        if ($entry.Text.StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase)) {
            New-AzsCompletionResult -Text $entry.Text -ToolTip $entry.ToolTip
        }
    }
}

function Get-AzsBackupNameCompletion {
    <# Backup ids on the store, newest first; the location/id Name once the word typed holds a '/'. #>
    [CmdletBinding()]
    param([AllowEmptyString()] [string] $WordToComplete)

    $answer = Invoke-AzsCompletionRequest -Method 'backup.list'
    $property = 'BackupId'
    if ($WordToComplete.Contains('/')) { $property = 'Name' }
    $candidates = foreach ($backup in @(Get-AzsProperty -InputObject $answer -Name 'backups')) {
        $toolTip = '{0}, created {1}, cloud recovery ready: {2}' -f (Get-AzsProperty -InputObject $backup -Name 'Status'),
        (Get-AzsProperty -InputObject $backup -Name 'CreatedDateTime'), (Get-AzsProperty -InputObject $backup -Name 'IsCloudRecoveryReady')
        @{ Text = [string](Get-AzsProperty -InputObject $backup -Name $property); ToolTip = $toolTip }
    }
    Select-AzsCompletion -Candidate $candidates -WordToComplete $WordToComplete
}

function Get-AzsRoleNameCompletion {
    <# Role names: those recorded in the backup named BackupName when one is given, else the registered roles. #>
    [CmdletBinding()]
    param([AllowEmptyString()] [string] $WordToComplete, [string] $BackupName)

    if ($BackupName) {
        $answer = Invoke-AzsCompletionRequest -Method 'backup.list' -Params @{ Name = $BackupName }
        $backup = @(Get-AzsProperty -InputObject $answer -Name 'backups') | Select-Object -First 1
        $candidates = foreach ($entry in @(Get-AzsProperty -InputObject $backup -Name 'RoleStatus')) {
            $roleName = [string](Get-AzsProperty -InputObject $entry -Name 'RoleName')
            @{ Text = $roleName; ToolTip = "$roleName ($(Get-AzsProperty -InputObject $entry -Name 'Status') in backup $BackupName)" }
        }
    } else {
        $answer = Invoke-AzsCompletionRequest -Method 'role.list'
        $candidates = foreach ($role in @(Get-AzsProperty -InputObject $answer -Name 'roles')) {
            $roleName = [string](Get-AzsProperty -InputObject $role -Name 'Name')
            @{ Text = $roleName; ToolTip = "$roleName ($(Get-AzsProperty -InputObject $role -Name 'Provider'))" }
        }
    }
    Select-AzsCompletion -Candidate $candidates -WordToComplete $WordToComplete
}

function Get-AzsNotificationTargetNameCompletion {
    <# The notification targets' names, with their kind and address as the tooltip. #>
    [CmdletBinding()]
    param([AllowEmptyString()] [string] $WordToComplete)

    $answer = Invoke-AzsCompletionRequest -Method 'notification.list'
    $candidates = foreach ($target in @(Get-AzsProperty -InputObject $answer -Name 'targets')) {
        $targetName = [string](Get-AzsProperty -InputObject $target -Name 'Name')
        @{ Text = $targetName; ToolTip = "$targetName ($(Get-AzsProperty -InputObject $target -Name 'Kind'))" }
    }
    Select-AzsCompletion -Candidate $candidates -WordToComplete $WordToComplete
}

function Get-AzsBoundBackupName {
    <# The backup named by -Name on the command line being completed: a string, or a Backup object's BackupId. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([AllowNull()] [System.Collections.IDictionary] $FakeBoundParameters)

    if (-not $FakeBoundParameters -or -not $FakeBoundParameters.Contains('Name')) { return '' }
    $value = $FakeBoundParameters['Name']
    if ($value -is [string]) { return $value }
    [string](Get-AzsProperty -InputObject $value -Name 'BackupId')
}

# Registered by name, so they also serve commands defined after this file loads. Each completer is
# bound to this module's scope; the try/catch keeps any failure away from the Tab press.
Register-ArgumentCompleter -CommandName 'Get-AzsBackup', 'Restore-AzsBackup', 'Test-AzsBackup' -ParameterName 'Name' -ScriptBlock {
    param($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
    try { Get-AzsBackupNameCompletion -WordToComplete ([string]$wordToComplete) } catch { Write-Verbose $_.Exception.Message }
}

Register-ArgumentCompleter -CommandName 'Restore-AzsBackup' -ParameterName 'RoleName' -ScriptBlock {
    param($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
    try {
        Get-AzsRoleNameCompletion -WordToComplete ([string]$wordToComplete) -BackupName (Get-AzsBoundBackupName -FakeBoundParameters $fakeBoundParameters)
    } catch { Write-Verbose $_.Exception.Message }
}

Register-ArgumentCompleter -CommandName 'Get-AzsInfrastructureRole', 'Unregister-AzsInfrastructureRole' -ParameterName 'Name' -ScriptBlock {
    param($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
    try { Get-AzsRoleNameCompletion -WordToComplete ([string]$wordToComplete) } catch { Write-Verbose $_.Exception.Message }
}

Register-ArgumentCompleter -CommandName 'Get-AzsBackupNotificationTarget', 'Remove-AzsBackupNotificationTarget', 'Test-AzsBackupNotificationTarget' -ParameterName 'Name' -ScriptBlock {
    param($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
    try { Get-AzsNotificationTargetNameCompletion -WordToComplete ([string]$wordToComplete) } catch { Write-Verbose $_.Exception.Message }
}
